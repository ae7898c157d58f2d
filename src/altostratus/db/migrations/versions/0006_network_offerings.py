"""networking: the network offerings every region offers

Reference data, no schema change: the shared guest network offerings that
``createNetwork`` and ``listNetworkOfferings`` name, as CloudStack ships them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 09:00:00
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_OFFERINGS = sa.table(
    "network_offerings",
    sa.column("uuid", sa.String),
    sa.column("created", sa.DateTime(timezone=True)),
    sa.column("name", sa.String),
    sa.column("display_text", sa.String),
    sa.column("guest_ip_type", sa.String),
    sa.column("traffic_type", sa.String),
    sa.column("services", sa.String),
    sa.column("is_default", sa.Boolean),
    sa.column("specify_ip_ranges", sa.Boolean),
    sa.column("state", sa.String),
)

_NAMES = ("DefaultSharedNetworkOffering", "DefaultSharedNetworkOfferingWithSGService")


def upgrade() -> None:
    now = datetime.now(UTC)
    common = {
        "created": now,
        "guest_ip_type": "Shared",
        "traffic_type": "Guest",
        "is_default": True,
        "specify_ip_ranges": True,
        "state": "Enabled",
    }
    op.bulk_insert(
        _OFFERINGS,
        [
            {
                **common,
                "uuid": str(uuid.uuid4()),
                "name": _NAMES[0],
                "display_text": "Offering for Shared networks",
                "services": "Dhcp,Dns,UserData",
            },
            {
                **common,
                "uuid": str(uuid.uuid4()),
                "name": _NAMES[1],
                "display_text": "Offering for Shared Security group enabled networks",
                "services": "Dhcp,Dns,UserData,SecurityGroup",
            },
        ],
    )


def downgrade() -> None:
    op.execute(_OFFERINGS.delete().where(_OFFERINGS.c.name.in_(_NAMES)))
