"""replication log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:42:11.621157
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entity_versions",
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("entity_type", "entity_key", name=op.f("pk_entity_versions")),
    )
    op.create_table(
        "replication_log",
        sa.Column("origin", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", "seq", name=op.f("pk_replication_log")),
    )
    with op.batch_alter_table("replication_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_replication_log_unapplied", ["applied", "origin", "seq"], unique=False
        )

    op.create_table(
        "replication_vector",
        sa.Column("origin", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_replication_vector")),
    )


def downgrade() -> None:
    op.drop_table("replication_vector")
    with op.batch_alter_table("replication_log", schema=None) as batch_op:
        batch_op.drop_index("ix_replication_log_unapplied")

    op.drop_table("replication_log")
    op.drop_table("entity_versions")
