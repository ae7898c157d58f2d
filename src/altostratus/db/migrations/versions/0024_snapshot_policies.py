"""Snapshot policies (a regional table, like the volumes they schedule)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 04:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot_policies",
        sa.Column("volume_id", sa.Integer(), nullable=False),
        sa.Column("interval_type", sa.String(length=16), nullable=False),
        sa.Column("schedule", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("max_snaps", sa.Integer(), nullable=False),
        sa.Column("for_display", sa.Boolean(), nullable=False),
        sa.Column("next_run", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["volume_id"], ["volumes.id"], name=op.f("fk_snapshot_policies_volume_id_volumes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_policies")),
        sa.UniqueConstraint("uuid", name=op.f("uq_snapshot_policies_uuid")),
        sa.UniqueConstraint(
            "volume_id", "interval_type", name=op.f("uq_snapshot_policies_volume_id")
        ),
    )
    op.create_index(op.f("ix_snapshot_policies_volume_id"), "snapshot_policies", ["volume_id"])
    op.create_index(op.f("ix_snapshot_policies_next_run"), "snapshot_policies", ["next_run"])


def downgrade() -> None:
    op.drop_table("snapshot_policies")
