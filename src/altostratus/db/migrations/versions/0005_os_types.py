"""catalog: the guest OS types every region offers (reference data)

The ids are generated when a region's database is created; OS categories take theirs
from the category name (``services.offerings.os_category_uuid``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:00:00
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: CloudStack's guest OS names, by category.
OS_TYPES = {
    "CentOS": [
        "CentOS 7",
        "CentOS 8",
        "CentOS Stream 9",
    ],
    "Debian": [
        "Debian GNU/Linux 10 (64-bit)",
        "Debian GNU/Linux 11 (64-bit)",
        "Debian GNU/Linux 12 (64-bit)",
    ],
    "Ubuntu": [
        "Ubuntu 18.04 LTS",
        "Ubuntu 20.04 LTS",
        "Ubuntu 22.04 LTS",
        "Ubuntu 24.04 LTS",
    ],
    "Red Hat": [
        "Red Hat Enterprise Linux 7",
        "Red Hat Enterprise Linux 8",
        "Red Hat Enterprise Linux 9",
        "Rocky Linux 9",
        "AlmaLinux 9",
    ],
    "Windows": [
        "Windows 10 (64-bit)",
        "Windows 11 (64-bit)",
        "Windows Server 2016 (64-bit)",
        "Windows Server 2019 (64-bit)",
        "Windows Server 2022 (64-bit)",
    ],
    "Other": [
        "Other Linux (64-bit)",
        "Other PV (64-bit)",
        "FreeBSD 13 (64-bit)",
        "Other (64-bit)",
        "Other (32-bit)",
    ],
}

_os_types = sa.table(
    "os_types",
    sa.column("uuid", sa.String),
    sa.column("description", sa.String),
    sa.column("category", sa.String),
    sa.column("created", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    now = datetime.now(UTC)
    op.bulk_insert(
        _os_types,
        [
            {"uuid": str(uuid.uuid4()), "description": name, "category": category, "created": now}
            for category, names in OS_TYPES.items()
            for name in names
        ],
    )


def downgrade() -> None:
    names = [name for names in OS_TYPES.values() for name in names]
    op.execute(_os_types.delete().where(_os_types.c.description.in_(names)))
