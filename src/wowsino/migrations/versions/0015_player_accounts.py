"""Player accounts: credentials, sessions, login throttling, publishable keys.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Players act for themselves on white-label brands (login, limits, self-exclusion).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_type_check
    CHECK (actor_type IN ('api_key', 'operator', 'system', 'admin', 'player'));

-- A publishable key (wpk_live_|wpk_test_) is safe in a browser: it allows only
-- /v1/auth/* and the public engine listings. Secret keys stay wsk_.
ALTER TABLE api_keys ADD COLUMN kind text NOT NULL DEFAULT 'secret'
    CHECK (kind IN ('secret', 'publishable'));

-- A white-label player's password: argon2id, never the plaintext.
CREATE TABLE player_credentials (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    player_id uuid NOT NULL,
    password_hash text NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, player_id)
);

-- Player sessions: the token is stored only as SHA-256 and is looked up before the
-- tenant is known (like api_keys). Sliding idle expiry, capped by an absolute one.
CREATE TABLE player_sessions (
    token_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    player_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    client_address text,
    user_agent text,
    UNIQUE (tenant_id, mode, id),
    CHECK (idle_expires_at <= absolute_expires_at)
);
CREATE INDEX player_sessions_by_player
    ON player_sessions (tenant_id, mode, player_id, created_at DESC);

-- Failed logins, per account (the username as typed, lower-cased: unknown usernames
-- count the same, so a lock-out reveals nothing) and per client address.
CREATE TABLE login_failures (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    brand_id uuid NOT NULL,
    subject text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures (tenant_id, mode, brand_id, subject, at);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
