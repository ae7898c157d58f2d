"""Counts shared by a region's servers: API requests per account, failed logins per address

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 01:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_counters",
        sa.Column("namespace", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("window_seconds", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("server_id", sa.String(length=255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "namespace",
            "key",
            "window_start",
            "window_seconds",
            "server_id",
            name=op.f("pk_region_counters"),
        ),
    )
    op.create_index("ix_region_counters_window", "region_counters", ["namespace", "window_start"])


def downgrade() -> None:
    op.drop_index("ix_region_counters_window", table_name="region_counters")
    op.drop_table("region_counters")
