"""Run-time overrides of the dynamic settings (updateConfiguration), per scope

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "configuration_values",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "scope", "scope_id", name=op.f("pk_configuration_values")),
    )


def downgrade() -> None:
    op.drop_table("configuration_values")
