"""peer vectors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:15:40.203117
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_vectors",
        sa.Column("region_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("origin", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_id", "origin", name=op.f("pk_peer_vectors")),
    )


def downgrade() -> None:
    op.drop_table("peer_vectors")
