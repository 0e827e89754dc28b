"""Rate-limit buckets in PostgreSQL, shared by every API process when
``WOWSINO_RATE_LIMIT_STORE=postgres`` (kernel/ratelimit.py).

UNLOGGED: a bucket is written on every request, and writing WAL for it would buy
nothing; a crash empties the table, which only refills every bucket. The refill is
computed in the statement from the database's clock, so the processes share one clock.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- One token bucket per tenant and mode. A request's UPSERT refills the tokens for the
-- seconds since refreshed_at (capped at the burst), takes one if there is one, and says
-- in allowed whether it did. Half-empty pages leave room for HOT updates of the hot rows.
CREATE UNLOGGED TABLE rate_limit_buckets (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    tokens double precision NOT NULL,
    refreshed_at double precision NOT NULL,  -- seconds since the epoch
    allowed boolean NOT NULL,
    PRIMARY KEY (tenant_id, mode)
) WITH (fillfactor = 50);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE rate_limit_buckets")
