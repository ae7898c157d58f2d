"""Service offerings say whether their VMs may be scaled while they run
(``dynamicscalingenabled``, true by default as in CloudStack)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_offerings") as batch:
        batch.add_column(
            sa.Column(
                "dynamic_scaling_enabled", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("service_offerings") as batch:
        batch.drop_column("dynamic_scaling_enabled")
