"""Rate-limit buckets say how many tokens a request took: an API process may take
several at once from a shared bucket and spend them itself (``kernel.ratelimit``).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE rate_limit_buckets ADD COLUMN granted integer NOT NULL DEFAULT 1")


def downgrade() -> None:
    op.execute("ALTER TABLE rate_limit_buckets DROP COLUMN granted")
