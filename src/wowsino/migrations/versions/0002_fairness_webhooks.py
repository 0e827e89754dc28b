"""Fairness seed chains and webhook subscriptions, deliveries and attempts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- One committed seed per player: a draw reveals it and commits the next one.
CREATE TABLE fairness_seeds (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    player_id uuid NOT NULL,
    server_seed text NOT NULL,
    server_seed_hash text NOT NULL,
    client_seed text NOT NULL,
    draws bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, player_id)
);

CREATE TABLE webhook_subscriptions (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    url text NOT NULL,
    events text[] NOT NULL,
    secret text NOT NULL,
    description text,
    status text NOT NULL CHECK (status IN ('active', 'paused', 'failed', 'deleted')),
    failing_since timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions (tenant_id, mode)
    WHERE status = 'active';

CREATE TABLE webhook_deliveries (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    subscription_id uuid NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    data jsonb NOT NULL,
    event_created_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until timestamptz,
    last_status_code integer,
    last_error text,
    last_attempt_at timestamptz,
    delivered_at timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhook_subscriptions (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'delivering');
CREATE INDEX webhook_deliveries_by_subscription
    ON webhook_deliveries (tenant_id, subscription_id, created_at DESC, id DESC);

-- Wake idle workers the moment deliveries commit (NOTIFY is sent at commit).
CREATE FUNCTION notify_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wowsino_webhooks', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_deliveries_notify AFTER INSERT ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_webhook_deliveries();

CREATE TABLE webhook_attempts (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    delivery_id uuid NOT NULL,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    status_code integer,
    error text,
    duration_ms integer NOT NULL,
    PRIMARY KEY (tenant_id, delivery_id, attempt)
);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
