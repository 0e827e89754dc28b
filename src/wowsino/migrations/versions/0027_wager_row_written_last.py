"""A wager event's row is written with its effects, once, by the transaction's last
statement (``events.service``): the VIP consumer's row for the same wager may come
first, so its reference to the wager is checked at commit.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_FK = "vip_wagers_tenant_id_mode_source_wager_id_fkey"


def upgrade() -> None:
    op.execute(f"ALTER TABLE vip_wagers ALTER CONSTRAINT {_FK} DEFERRABLE INITIALLY DEFERRED")


def downgrade() -> None:
    op.execute(f"ALTER TABLE vip_wagers ALTER CONSTRAINT {_FK} NOT DEFERRABLE")
