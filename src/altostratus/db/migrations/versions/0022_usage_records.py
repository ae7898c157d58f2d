"""Metered usage records (a regional table)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("usage_type", sa.Integer(), nullable=False),
        sa.Column("usage_uuid", sa.String(length=36), nullable=False),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw_usage", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("domain_uuid", sa.String(length=36), nullable=False),
        sa.Column("domain_path", sa.String(length=1024), nullable=False),
        sa.Column("zone_uuid", sa.String(length=36), nullable=True),
        sa.Column("vm_uuid", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("offering_uuid", sa.String(length=36), nullable=True),
        sa.Column("template_uuid", sa.String(length=36), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint(
            "usage_type", "usage_uuid", "start_date", name=op.f("uq_usage_records_usage_type")
        ),
    )
    op.create_index(
        "ix_usage_records_account_period", "usage_records", ["account_uuid", "start_date"]
    )
    op.create_index(op.f("ix_usage_records_start_date"), "usage_records", ["start_date"])
    op.create_index(op.f("ix_usage_records_domain_path"), "usage_records", ["domain_path"])


def downgrade() -> None:
    op.drop_table("usage_records")
