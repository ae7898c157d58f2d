"""Management servers of the region and their heartbeats

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "management_servers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("server_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("service_ip", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("python_version", sa.String(length=64), nullable=False),
        sa.Column("os_distribution", sa.String(length=255), nullable=False),
        sa.Column("kernel_version", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_management_servers")),
        sa.UniqueConstraint("uuid", name=op.f("uq_management_servers_uuid")),
        sa.UniqueConstraint("server_id", name=op.f("uq_management_servers_server_id")),
    )
    op.create_index(
        op.f("ix_management_servers_state"), "management_servers", ["state"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_management_servers_state"), table_name="management_servers")
    op.drop_table("management_servers")
