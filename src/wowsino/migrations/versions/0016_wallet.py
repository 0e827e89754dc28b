"""The wallet: deposits, withdrawals, PSP configuration and callbacks, KYC decisions.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A brand's payment provider: the adapter, its credentials (write-only through the API)
-- and the amounts below which a withdrawal is approved without an operator.
CREATE TABLE psp_configs (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    brand_id uuid NOT NULL,
    adapter text NOT NULL,
    credentials jsonb NOT NULL DEFAULT '{}',
    auto_approve_below jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, brand_id),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id)
);

CREATE TABLE deposits (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    player_id uuid NOT NULL,
    currency text NOT NULL REFERENCES assets (code),
    amount bigint NOT NULL CHECK (amount > 0),
    method text NOT NULL,
    adapter text NOT NULL,
    promo_code text,
    callback_base text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'completed', 'failed')),
    psp_reference text,
    redirect_url text,
    failure_reason text,
    entry_id bigint,
    flag text,
    flagged_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    settled_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX deposits_by_player ON deposits (tenant_id, mode, player_id, created_at DESC, id DESC);
CREATE INDEX deposits_listing ON deposits (tenant_id, mode, brand_id, created_at DESC, id DESC);
CREATE INDEX deposits_flagged ON deposits (tenant_id, mode, brand_id) WHERE flag IS NOT NULL;

CREATE TABLE withdrawals (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    player_id uuid NOT NULL,
    currency text NOT NULL REFERENCES assets (code),
    amount bigint NOT NULL CHECK (amount > 0),
    method text NOT NULL,
    adapter text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'completed', 'failed', 'rejected')),
    auto_approved boolean NOT NULL DEFAULT false,
    reviewed_by text,
    review_reason text,
    reviewed_at timestamptz,
    callback_base text NOT NULL,
    psp_reference text,
    payout_sent_at timestamptz,
    failure_reason text,
    forfeited_bonuses jsonb NOT NULL DEFAULT '[]',
    request_entry_id bigint NOT NULL,
    settle_entry_id bigint,
    flag text,
    flagged_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    settled_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX withdrawals_by_player ON withdrawals (tenant_id, mode, player_id, created_at DESC,
    id DESC);
CREATE INDEX withdrawals_listing ON withdrawals (tenant_id, mode, brand_id, created_at DESC,
    id DESC);
-- approved payouts the PSP has not acknowledged yet (the worker sends them again)
CREATE INDEX withdrawals_unsent ON withdrawals (reviewed_at)
    WHERE status = 'approved' AND psp_reference IS NULL;

-- The state machines hold whatever the code does: a deposit is settled once (a failed one
-- may still complete: the PSP holds the money); a withdrawal moves one way only.
CREATE FUNCTION wallet_keep_states() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'deposits' AND (
        (OLD.status = 'pending' AND NEW.status IN ('completed', 'failed'))
        OR (OLD.status = 'failed' AND NEW.status = 'completed')) THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'withdrawals' AND (
        (OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected'))
        OR (OLD.status = 'approved' AND NEW.status IN ('completed', 'failed'))) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% %: % cannot become %', TG_TABLE_NAME, OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'WZW01';
END;
$$;
CREATE TRIGGER deposits_states BEFORE UPDATE ON deposits
    FOR EACH ROW EXECUTE FUNCTION wallet_keep_states();
CREATE TRIGGER withdrawals_states BEFORE UPDATE ON withdrawals
    FOR EACH ROW EXECUTE FUNCTION wallet_keep_states();

-- Every verified PSP callback, once per (adapter, PSP transaction, status): a repeat is a
-- duplicate; a contradicting status is recorded and flagged.
CREATE TABLE psp_callbacks (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id bigint GENERATED ALWAYS AS IDENTITY,
    adapter text NOT NULL,
    psp_transaction_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('completed', 'failed')),
    target_type text NOT NULL CHECK (target_type IN ('deposit', 'withdrawal')),
    target_id uuid NOT NULL,
    amount bigint,
    currency text,
    outcome text NOT NULL CHECK (outcome IN ('applied', 'flagged', 'ignored')),
    flag text,
    body text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mode, adapter, psp_transaction_id, status)
);
CREATE INDEX psp_callbacks_by_target ON psp_callbacks (tenant_id, mode, target_id, id);
CREATE TRIGGER psp_callbacks_append_only BEFORE UPDATE OR DELETE ON psp_callbacks
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();

-- KYC decisions, newest last; the player row keeps the one in force.
CREATE TABLE kyc_decisions (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    source text NOT NULL,
    status text NOT NULL CHECK (status IN ('none', 'pending', 'approved', 'rejected')),
    level integer NOT NULL CHECK (level BETWEEN 0 AND 3),
    reason text NOT NULL,
    actor text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX kyc_decisions_by_player ON kyc_decisions (tenant_id, mode, player_id,
    created_at DESC);
CREATE TRIGGER kyc_decisions_append_only BEFORE UPDATE OR DELETE ON kyc_decisions
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
