"""Offerings: storage QoS of service and disk offerings, system offerings, and the
network offering fields createNetworkOffering sets

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:15:00
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: The storage QoS columns both offering tables gain (``StorageQos``), all nullable.
_QOS_NULLABLE: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("cache_mode", sa.String(length=16)),
    ("customized_iops", sa.Boolean()),
    ("min_iops", sa.BigInteger()),
    ("max_iops", sa.BigInteger()),
    ("hypervisor_snapshot_reserve", sa.Integer()),
    *(
        (f"{kind}_{direction}_rate{suffix}", sa.BigInteger())
        for kind in ("bytes", "iops")
        for direction in ("read", "write")
        for suffix in ("", "_max", "_max_length")
    ),
)


def _qos_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("provisioning_type", sa.String(length=16), nullable=False, server_default="thin"),
        sa.Column("encrypt", sa.Boolean(), nullable=False, server_default=sa.false()),
        *(sa.Column(name, kind, nullable=True) for name, kind in _QOS_NULLABLE),
    ]


def upgrade() -> None:
    with op.batch_alter_table("service_offerings") as batch:
        for column in _qos_columns():
            batch.add_column(column)
        batch.add_column(
            sa.Column("storage_tags", sa.String(length=1024), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("is_volatile", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("network_rate", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("is_system", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("system_vm_type", sa.String(length=32), nullable=True))
    with op.batch_alter_table("disk_offerings") as batch:
        for column in _qos_columns():
            batch.add_column(column)
        batch.add_column(
            sa.Column("display_offering", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("network_offerings") as batch:
        # The shipped shared offerings specify their VLAN, as CloudStack's do.
        batch.add_column(
            sa.Column("specify_vlan", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column(
                "availability", sa.String(length=16), nullable=False, server_default="Optional"
            )
        )
        for name, default in (
            ("conserve_mode", sa.true()),
            ("egress_default_policy", sa.true()),
            ("is_persistent", sa.false()),
            ("for_vpc", sa.false()),
        ):
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=default))
        batch.add_column(sa.Column("network_rate", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_connections", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tags", sa.String(length=4096), nullable=True))
        batch.add_column(sa.Column("domain_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("zone_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("service_offering_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_network_offerings_service_offering_id_service_offerings"),
            "service_offerings",
            ["service_offering_id"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_network_offerings_domain_id_domains"), "domains", ["domain_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_network_offerings_zone_id_zones"), "zones", ["zone_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("network_offerings") as batch:
        batch.drop_constraint(
            op.f("fk_network_offerings_service_offering_id_service_offerings"),
            type_="foreignkey",
        )
        batch.drop_constraint(op.f("fk_network_offerings_zone_id_zones"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_network_offerings_domain_id_domains"), type_="foreignkey")
        for name in (
            "service_offering_id",
            "zone_id",
            "domain_id",
            "tags",
            "max_connections",
            "network_rate",
            "for_vpc",
            "is_persistent",
            "egress_default_policy",
            "conserve_mode",
            "availability",
            "specify_vlan",
        ):
            batch.drop_column(name)
    qos = ["provisioning_type", "encrypt", *(name for name, _kind in _QOS_NULLABLE)]
    with op.batch_alter_table("disk_offerings") as batch:
        for name in ["display_offering", *qos]:
            batch.drop_column(name)
    with op.batch_alter_table("service_offerings") as batch:
        for name in ["system_vm_type", "is_system", "network_rate", "is_volatile", "storage_tags"]:
            batch.drop_column(name)
        for name in qos:
            batch.drop_column(name)
