"""Dynamic roles: default, public and state flags on roles, and their permission rules

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_DEFAULT_NAMES = ("Root Admin", "Domain Admin", "User")


def upgrade() -> None:
    with op.batch_alter_table("roles") as batch:
        batch.add_column(
            sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("is_public", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column(
                "state",
                sa.Enum("enabled", "disabled", name="role_state", native_enum=False, length=32),
                nullable=False,
                server_default="enabled",
            )
        )
    with op.batch_alter_table("roles") as batch:
        batch.alter_column("is_default", server_default=None)
        batch.alter_column("is_public", server_default=None)
        batch.alter_column("state", server_default=None)
    # The roles bootstrap created before roles could be edited are the default ones.
    roles = sa.table("roles", sa.column("name", sa.String), sa.column("is_default", sa.Boolean))
    op.execute(roles.update().where(roles.c.name.in_(_DEFAULT_NAMES)).values(is_default=True))
    op.create_table(
        "role_permissions",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=255), nullable=False),
        sa.Column(
            "permission",
            sa.Enum("allow", "deny", name="permission", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name=op.f("fk_role_permissions_role_id_roles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_permissions")),
        sa.UniqueConstraint("uuid", name=op.f("uq_role_permissions_uuid")),
    )
    op.create_index(
        op.f("ix_role_permissions_role_id"), "role_permissions", ["role_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_role_permissions_role_id"), table_name="role_permissions")
    op.drop_table("role_permissions")
    with op.batch_alter_table("roles") as batch:
        batch.drop_column("state")
        batch.drop_column("is_public")
        batch.drop_column("is_default")
