"""Image stores, and templates whose bytes the region downloads into one

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 04:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_stores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_image_stores_zone_id_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_stores")),
        sa.UniqueConstraint("name", name=op.f("uq_image_stores_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_image_stores_uuid")),
    )
    with op.batch_alter_table("templates") as batch:
        batch.alter_column("status", type_=sa.String(length=1024), existing_nullable=False)
        batch.add_column(sa.Column("physical_size", sa.BigInteger(), nullable=True))
        # Every template so far was Ready at once (or an error): it stays as it was.
        batch.add_column(
            sa.Column(
                "download_state",
                sa.String(length=32),
                nullable=False,
                server_default="DOWNLOADED",
            )
        )
        batch.add_column(sa.Column("image_store_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("object_key", sa.String(length=512), nullable=True))
        batch.create_foreign_key(
            op.f("fk_templates_image_store_id_image_stores"),
            "image_stores",
            ["image_store_id"],
            ["id"],
        )
    op.execute(
        "UPDATE templates SET download_state = 'DOWNLOAD_ERROR' WHERE status <> 'Download Complete'"
    )


def downgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.drop_constraint(op.f("fk_templates_image_store_id_image_stores"), type_="foreignkey")
        batch.drop_column("object_key")
        batch.drop_column("image_store_id")
        batch.drop_column("download_state")
        batch.drop_column("physical_size")
        batch.alter_column("status", type_=sa.String(length=64), existing_nullable=False)
    op.drop_table("image_stores")
