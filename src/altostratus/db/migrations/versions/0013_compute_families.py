"""VMs that may be scaled while running

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("virtual_machines") as batch:
        batch.add_column(
            sa.Column(
                "dynamically_scalable", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("virtual_machines") as batch:
        batch.drop_column("dynamically_scalable")
