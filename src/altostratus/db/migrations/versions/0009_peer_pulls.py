"""Pull status per peer region, shared by the region's management servers

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_pulls",
        sa.Column("region_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("last_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("entries_pulled", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("region_id", name=op.f("pk_peer_pulls")),
    )


def downgrade() -> None:
    op.drop_table("peer_pulls")
