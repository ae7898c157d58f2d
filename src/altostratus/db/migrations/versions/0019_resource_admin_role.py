"""The Resource Admin default role in databases bootstrapped before it existed

A region bootstrapped before 0014 has the three default roles it had then and no
Resource Admin; a new region gets all four from bootstrap. The row gets the fixed UUID
of ``services.identity.roles.DEFAULT_ROLES``, so every region upgraded this way has the
same one, as they would have had it from bootstrap. (The older three keep the UUIDs they
were created with: accounts, replication logs and operators' playbooks refer to them.)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 01:40:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

#: As in ``DEFAULT_ROLES``: a migration keeps its own copy, the module may change later.
_UUID = "572755ba-a09e-5840-a17d-9aa5beef194d"
_NAME = "Resource Admin"

_roles = sa.table(
    "roles",
    sa.column("uuid", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("description", sa.String),
    sa.column("is_default", sa.Boolean),
    sa.column("is_public", sa.Boolean),
    sa.column("state", sa.String),
    sa.column("created", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.scalar(sa.select(sa.func.count()).select_from(_roles)) == 0:
        return  # a new database: bootstrap creates all four
    taken = connection.scalar(
        sa.select(sa.func.count())
        .select_from(_roles)
        .where(sa.or_(_roles.c.uuid == _UUID, sa.func.lower(_roles.c.name) == _NAME.lower()))
    )
    if taken:
        return
    op.execute(
        _roles.insert().values(
            uuid=_UUID,
            name=_NAME,
            type="ResourceAdmin",
            description=f"Default {_NAME} role",
            is_default=True,
            is_public=True,
            state="enabled",
            created=datetime.now(UTC),
        )
    )


def downgrade() -> None:
    op.execute(_roles.delete().where(_roles.c.uuid == _UUID))
