"""VMs that may be scaled while running; instance groups; VM snapshots

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 17:00:00

A VM's free-text ``group_name`` becomes a row of ``instance_groups`` (one per account
and name), which the VM points at.
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_groups",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_instance_groups_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_instance_groups_domain_id_domains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_groups")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_instance_groups_account_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_instance_groups_uuid")),
    )
    op.create_index(
        op.f("ix_instance_groups_account_id"), "instance_groups", ["account_id"], unique=False
    )
    with op.batch_alter_table("virtual_machines") as batch:
        batch.add_column(
            sa.Column(
                "dynamically_scalable", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_virtual_machines_group_id"), ["group_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_virtual_machines_group_id_instance_groups"),
            "instance_groups",
            ["group_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _groups_from_names()
    op.create_table(
        "vm_snapshots",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=4096), nullable=True),
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("memory", sa.Boolean(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("parent_uuid", sa.String(length=36), nullable=True),
        sa.Column("removed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_vm_snapshots_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_vm_snapshots_domain_id_domains")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_vm_snapshots_host_id_hosts")
        ),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["virtual_machines.id"], name=op.f("fk_vm_snapshots_vm_id_virtual_machines")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_vm_snapshots_zone_id_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vm_snapshots")),
        sa.UniqueConstraint("uuid", name=op.f("uq_vm_snapshots_uuid")),
    )
    op.create_index(op.f("ix_vm_snapshots_account_id"), "vm_snapshots", ["account_id"])
    op.create_index(op.f("ix_vm_snapshots_removed"), "vm_snapshots", ["removed"])
    op.create_index(op.f("ix_vm_snapshots_vm_id"), "vm_snapshots", ["vm_id"])
    with op.batch_alter_table("virtual_machines") as batch:
        batch.drop_column("group_name")


def _groups_from_names() -> None:
    """One group per account and ``group_name`` of the live VMs; each VM joins its own."""
    bind = op.get_bind()
    vms = sa.table(
        "virtual_machines",
        sa.column("id", sa.Integer),
        sa.column("account_id", sa.Integer),
        sa.column("domain_id", sa.Integer),
        sa.column("group_name", sa.String),
        sa.column("group_id", sa.Integer),
    )
    groups = sa.table(
        "instance_groups",
        sa.column("id", sa.Integer),
        sa.column("uuid", sa.String),
        sa.column("created", sa.DateTime(timezone=True)),
        sa.column("name", sa.String),
        sa.column("account_id", sa.Integer),
        sa.column("domain_id", sa.Integer),
    )
    named = bind.execute(
        sa.select(vms.c.account_id, vms.c.domain_id, vms.c.group_name)
        .where(vms.c.group_name.is_not(None), vms.c.group_name != "")
        .distinct()
    ).all()
    for account_id, domain_id, name in named:
        bind.execute(
            groups.insert().values(
                uuid=str(uuid.uuid4()),
                created=datetime.now(UTC),
                name=name,
                account_id=account_id,
                domain_id=domain_id,
            )
        )
        group_id = bind.execute(
            sa.select(groups.c.id).where(groups.c.account_id == account_id, groups.c.name == name)
        ).scalar_one()
        bind.execute(
            vms.update()
            .where(vms.c.account_id == account_id, vms.c.group_name == name)
            .values(group_id=group_id)
        )


def downgrade() -> None:
    op.drop_table("vm_snapshots")
    with op.batch_alter_table("virtual_machines") as batch:
        batch.add_column(sa.Column("group_name", sa.String(length=255), nullable=True))
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE virtual_machines SET group_name = (SELECT name FROM instance_groups "
            "WHERE instance_groups.id = virtual_machines.group_id)"
        )
    )
    with op.batch_alter_table("virtual_machines") as batch:
        batch.drop_constraint(
            batch.f("fk_virtual_machines_group_id_instance_groups"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_virtual_machines_group_id"))
        batch.drop_column("group_id")
        batch.drop_column("dynamically_scalable")
    op.drop_index(op.f("ix_instance_groups_account_id"), table_name="instance_groups")
    op.drop_table("instance_groups")
