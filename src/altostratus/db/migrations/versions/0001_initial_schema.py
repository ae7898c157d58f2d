"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 05:59:15.549721
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "async_jobs",
        sa.Column("command", sa.String(length=128), nullable=False),
        sa.Column("user_uuid", sa.String(length=36), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("domain_path", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("result_code", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("instance_type", sa.String(length=64), nullable=True),
        sa.Column("instance_uuid", sa.String(length=36), nullable=True),
        sa.Column("completed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_jobs")),
        sa.UniqueConstraint("uuid", name=op.f("uq_async_jobs_uuid")),
    )
    with op.batch_alter_table("async_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_async_jobs_account_uuid"), ["account_uuid"], unique=False
        )

    op.create_table(
        "domains",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("network_domain", sa.String(length=255), nullable=True),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["domains.id"], name=op.f("fk_domains_parent_id_domains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_domains_parent_id")),
        sa.UniqueConstraint("path", name=op.f("uq_domains_path")),
        sa.UniqueConstraint("uuid", name=op.f("uq_domains_uuid")),
    )
    op.create_table(
        "events",
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("user_uuid", sa.String(length=36), nullable=True),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=True),
        sa.Column("domain_uuid", sa.String(length=36), nullable=False),
        sa.Column("domain_path", sa.String(length=1024), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=True),
        sa.Column("resource_uuid", sa.String(length=36), nullable=True),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("uuid", name=op.f("uq_events_uuid")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_account_uuid"), ["account_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_domain_path"), ["domain_path"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_type"), ["type"], unique=False)

    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("gslb_service_enabled", sa.Boolean(), nullable=False),
        sa.Column("portable_ip_service_enabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("name", name=op.f("uq_regions_name")),
    )
    op.create_table(
        "roles",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "type",
            sa.Enum("Admin", "DomainAdmin", "User", name="role_type", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_roles_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_roles_uuid")),
    )
    op.create_table(
        "session_revocations",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("user_uuid", sa.String(length=36), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_revocations")),
    )
    op.create_table(
        "system_values",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_system_values")),
    )
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "enabled", "disabled", "locked", name="entity_state", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("network_domain", sa.String(length=255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_accounts_domain_id_domains")
        ),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], name=op.f("fk_accounts_role_id_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_accounts_domain_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_accounts_uuid")),
    )
    op.create_table(
        "zones",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=True),
        sa.Column("network_type", sa.String(length=32), nullable=False),
        sa.Column("dns1", sa.String(length=64), nullable=False),
        sa.Column("dns2", sa.String(length=64), nullable=True),
        sa.Column("internal_dns1", sa.String(length=64), nullable=False),
        sa.Column("internal_dns2", sa.String(length=64), nullable=True),
        sa.Column("ip6_dns1", sa.String(length=64), nullable=True),
        sa.Column("ip6_dns2", sa.String(length=64), nullable=True),
        sa.Column("guest_cidr", sa.String(length=64), nullable=True),
        sa.Column("network_domain", sa.String(length=255), nullable=True),
        sa.Column("domain_id", sa.Integer(), nullable=True),
        sa.Column("allocation_state", sa.String(length=32), nullable=False),
        sa.Column("security_group_enabled", sa.Boolean(), nullable=False),
        sa.Column("local_storage_enabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_zones_domain_id_domains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
        sa.UniqueConstraint("name", name=op.f("uq_zones_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_zones_uuid")),
    )
    op.create_table(
        "pods",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("netmask", sa.String(length=64), nullable=False),
        sa.Column("start_ip", sa.String(length=64), nullable=True),
        sa.Column("end_ip", sa.String(length=64), nullable=True),
        sa.Column("allocation_state", sa.String(length=32), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_pods_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pods")),
        sa.UniqueConstraint("uuid", name=op.f("uq_pods_uuid")),
        sa.UniqueConstraint("zone_id", "name", name=op.f("uq_pods_zone_id")),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("firstname", sa.String(length=255), nullable=False),
        sa.Column("lastname", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "enabled", "disabled", "locked", name="entity_state", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("api_key", sa.String(length=255), nullable=True),
        sa.Column("secret_key_encrypted", sa.String(length=512), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_users_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_users_domain_id_domains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("api_key", name=op.f("uq_users_api_key")),
        sa.UniqueConstraint("domain_id", "username", name=op.f("uq_users_domain_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_users_uuid")),
    )
    op.create_table(
        "clusters",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("pod_id", sa.Integer(), nullable=False),
        sa.Column("hypervisor", sa.String(length=32), nullable=False),
        sa.Column("cluster_type", sa.String(length=32), nullable=False),
        sa.Column("allocation_state", sa.String(length=32), nullable=False),
        sa.Column("managed_state", sa.String(length=32), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pod_id"], ["pods.id"], name=op.f("fk_clusters_pod_id_pods")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
        sa.UniqueConstraint("pod_id", "name", name=op.f("uq_clusters_pod_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_clusters_uuid")),
    )


def downgrade() -> None:
    op.drop_table("clusters")
    op.drop_table("users")
    op.drop_table("pods")
    op.drop_table("zones")
    op.drop_table("accounts")
    op.drop_table("system_values")
    op.drop_table("session_revocations")
    op.drop_table("roles")
    op.drop_table("regions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_type"))
        batch_op.drop_index(batch_op.f("ix_events_domain_path"))
        batch_op.drop_index(batch_op.f("ix_events_account_uuid"))

    op.drop_table("events")
    op.drop_table("domains")
    with op.batch_alter_table("async_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_async_jobs_account_uuid"))

    op.drop_table("async_jobs")
