"""The event stream: each outbox event records its transaction's id, and each NATS
JetStream stream the relay feeds keeps its progress in one row (``wowsino.stream.relay``
explains the scheme).

Events written before this revision have no transaction id and are not published.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- The writing transaction's id, from the statement that inserts the event (no extra
-- round trip). Set as a default after the column is added, so existing rows are not
-- rewritten: they keep NULL.
ALTER TABLE outbox_events ADD COLUMN xid xid8;
ALTER TABLE outbox_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX outbox_events_by_xid ON outbox_events (xid) WHERE xid IS NOT NULL;

-- One row per stream. Every event whose transaction id is below ``watermark`` has been
-- published (or its transaction rolled back); of the events at or above it, those whose
-- seq is in ``published`` have been.
CREATE TABLE outbox_relays (
    stream text PRIMARY KEY,
    watermark xid8 NOT NULL DEFAULT '0',
    published int8multirange NOT NULL DEFAULT '{}',
    published_total bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
