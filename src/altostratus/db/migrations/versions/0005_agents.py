"""agents: no schema change (the placeholder stays empty)

Hosts, host commands and leases come with 0004; a zone's agent registration token is a
``system_values`` row (``agent-token:<zone uuid>``) created on first use.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:00:00
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
