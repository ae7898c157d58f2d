"""VM names unique per account until expunged

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 09:25:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_LIVE = sa.text("removed IS NULL")


def upgrade() -> None:
    op.create_index(
        "uq_virtual_machines_live_name",
        "virtual_machines",
        ["account_id", "name"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_virtual_machines_live_name", table_name="virtual_machines")
