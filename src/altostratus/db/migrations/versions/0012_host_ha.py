"""Host HA resources, the scopes HA is disabled in, and the agents' probe addresses

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_ha",
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_changed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("investigation", sa.Text(), nullable=True),
        sa.Column("last_investigated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovery_jobs", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_host_ha_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host_id", name=op.f("pk_host_ha")),
    )
    op.create_index(op.f("ix_host_ha_state"), "host_ha", ["state"], unique=False)
    op.create_table(
        "ha_disabled_scopes",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_id", name=op.f("pk_ha_disabled_scopes")),
    )
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("probe_address", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("probe_address")
    op.drop_table("ha_disabled_scopes")
    op.drop_index(op.f("ix_host_ha_state"), table_name="host_ha")
    op.drop_table("host_ha")
