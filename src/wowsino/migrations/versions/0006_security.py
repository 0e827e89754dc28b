"""Security: server-side console sessions, brand-tagged audit rows, raffle holder pseudonyms.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import hashlib
import hmac
import secrets

import sqlalchemy as sa
from alembic import op

from wowsino.kernel.db import split_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Console sessions live on the server, so signing out (or changing the admin token)
-- ends them even for a copied cookie. The cookie's session id is stored only as a
-- SHA-256; token_fingerprint identifies the admin token the session was opened with.
CREATE TABLE console_sessions (
    id_hash bytea PRIMARY KEY,
    token_fingerprint bytea NOT NULL,
    client_address text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason text CHECK (end_reason IN ('signed_out', 'token_changed'))
);
CREATE INDEX console_sessions_open ON console_sessions (token_fingerprint) WHERE ended_at IS NULL;

-- The brand of the player an audit row concerns (its target, or a draw's winner);
-- NULL for tenant-wide rows. A brand-bound key reads its own brand's rows and the
-- tenant-wide ones. Not part of the hashed content: it is derived from it.
ALTER TABLE audit_log ADD COLUMN brand_id uuid;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log a SET brand_id = p.brand_id FROM players p
WHERE p.tenant_id = a.tenant_id AND p.mode = a.mode AND a.brand_id IS NULL
  AND p.id::text = CASE WHEN a.target_type = 'player' THEN a.target_id
                        ELSE a.after -> 'winner' ->> 'user_id' END;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;

-- Published raffle ticket lists name pseudonymous holders, never players:
-- holder_id = HMAC-SHA256(holder_key, player id), the key never leaves the server.
-- ticket_format 1: lists published (and hashed into a draw) before holder ids;
-- they named players, so they are no longer published.
ALTER TABLE raffles ADD COLUMN holder_key bytea;
ALTER TABLE raffles ADD COLUMN ticket_format smallint NOT NULL DEFAULT 2
    CHECK (ticket_format IN (1, 2));
UPDATE raffles SET ticket_format = 1 WHERE status IN ('completed', 'cancelled');
ALTER TABLE raffle_entries ADD COLUMN holder_id text;
"""

FINISH = r"""
ALTER TABLE raffles ALTER COLUMN holder_key SET NOT NULL;
ALTER TABLE raffle_entries ALTER COLUMN holder_id SET NOT NULL;
"""


def _holder_id(key: bytes, player_id: str) -> str:
    # the same derivation as wowsino.engines.raffles.tickets.holder_id (frozen here)
    digest = hmac.new(key, b"raffle-holder:" + player_id.encode(), hashlib.sha256).hexdigest()
    return f"hld_{digest[:32]}"


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)
    bind = op.get_bind()
    raffles = bind.execute(sa.text("SELECT tenant_id, id FROM raffles")).all()
    for tenant_id, raffle_id in raffles:
        key = secrets.token_bytes(32)
        bind.execute(sa.text("UPDATE raffles SET holder_key = :k WHERE tenant_id = :t AND id = :r"),
                     {"k": key, "t": tenant_id, "r": raffle_id})
        players = bind.execute(sa.text(
            "SELECT DISTINCT player_id FROM raffle_entries WHERE tenant_id = :t AND raffle_id = :r"),
            {"t": tenant_id, "r": raffle_id}).scalars().all()
        for player_id in players:
            bind.execute(sa.text(
                "UPDATE raffle_entries SET holder_id = :h WHERE tenant_id = :t "
                "AND raffle_id = :r AND player_id = :p"),
                {"h": _holder_id(key, str(player_id)), "t": tenant_id, "r": raffle_id,
                 "p": player_id})
    for statement in split_sql(FINISH):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
