"""Jackpots.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A pool's configuration and its current round. Ordinary contributions never
-- write this row (it would become the hot row every wager serialises on); it
-- changes only when a drop is decided, a round starts, or the configuration does.
-- seed / must_drop_at configure future rounds; round_* and trigger_at describe the
-- current one. trigger_at is where the current round drops: must_drop_at, or the
-- hidden mystery point (secret, like mystery_server_seed, until the drop).
CREATE TABLE jackpots (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    name text NOT NULL,
    currency text NOT NULL REFERENCES assets (code),
    seed bigint NOT NULL CHECK (seed > 0),
    contribution_pct numeric(7, 4) CHECK (contribution_pct > 0 AND contribution_pct <= 100),
    must_drop_at bigint,
    mystery boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    stripes smallint NOT NULL CHECK (stripes BETWEEN 1 AND 256),
    round integer NOT NULL CHECK (round >= 1),
    round_started_at timestamptz NOT NULL,
    round_seed bigint NOT NULL CHECK (round_seed > 0),
    round_must_drop_at bigint,
    trigger_at bigint,
    mystery_server_seed text,
    mystery_seed_hash text,
    mystery_client_seed text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (must_drop_at IS NULL OR must_drop_at > seed),
    CHECK (NOT mystery OR must_drop_at IS NOT NULL),
    CHECK (trigger_at IS NULL OR trigger_at > round_seed),
    CHECK (round_must_drop_at IS NULL OR trigger_at <= round_must_drop_at)
);
CREATE INDEX jackpots_listing ON jackpots (tenant_id, mode, created_at DESC, id DESC);

-- The pool's contributions of the current round, spread over stripes so that
-- concurrent contributions update different rows. Each stripe also holds a share
-- of the headroom left before trigger_at (NULL: no trigger); a contribution that
-- fits inside one stripe's share cannot reach the trigger and needs no other lock.
-- Invariant while a trigger is set: round_seed + sum(contributed) + sum(headroom)
-- = trigger_at, so the pool never passes it.
CREATE TABLE jackpot_stripes (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    jackpot_id uuid NOT NULL,
    stripe smallint NOT NULL,
    round integer NOT NULL,
    contributed bigint NOT NULL DEFAULT 0 CHECK (contributed >= 0),
    headroom bigint CHECK (headroom >= 0),
    PRIMARY KEY (tenant_id, jackpot_id, stripe),
    FOREIGN KEY (tenant_id, jackpot_id) REFERENCES jackpots (tenant_id, id)
);

-- The fast path of a contribution, in one round trip: add p_amount through a stripe
-- of round p_round whose headroom exceeds it — first any stripe nobody holds, else
-- (every one busy) by waiting for stripe p_own. Returns the round's contributions
-- after it, or NULL when the exclusive path must decide. Each attempt runs in its
-- own subtransaction, rolled back when it fails, so a failed attempt keeps no row
-- lock (a READ COMMITTED recheck may lock a row it then rejects): a transaction
-- sent on to the exclusive path never holds a stripe the exclusive path waits for.
CREATE FUNCTION jackpot_claim(
    p_tenant uuid, p_mode text, p_jackpot uuid, p_round integer, p_amount bigint,
    p_own integer, p_stripes integer
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_before bigint;
    v_stripe smallint;
BEGIN
    SELECT coalesce(sum(contributed), 0) INTO v_before FROM jackpot_stripes
     WHERE tenant_id = p_tenant AND mode = p_mode AND jackpot_id = p_jackpot;
    BEGIN
        SELECT stripe INTO v_stripe FROM jackpot_stripes
         WHERE tenant_id = p_tenant AND mode = p_mode AND jackpot_id = p_jackpot
           AND round = p_round AND (headroom IS NULL OR headroom > p_amount)
         ORDER BY (stripe + p_own) % p_stripes LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF v_stripe IS NULL THEN
            RAISE EXCEPTION 'no free stripe' USING ERRCODE = 'WZJ01';
        END IF;
        UPDATE jackpot_stripes SET contributed = contributed + p_amount,
               headroom = headroom - p_amount
         WHERE tenant_id = p_tenant AND jackpot_id = p_jackpot AND stripe = v_stripe;
        RETURN v_before + p_amount;
    EXCEPTION WHEN SQLSTATE 'WZJ01' THEN
        NULL;
    END;
    BEGIN
        UPDATE jackpot_stripes SET contributed = contributed + p_amount,
               headroom = headroom - p_amount
         WHERE tenant_id = p_tenant AND mode = p_mode AND jackpot_id = p_jackpot
           AND stripe = p_own AND round = p_round
           AND (headroom IS NULL OR headroom > p_amount);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no headroom' USING ERRCODE = 'WZJ01';
        END IF;
        RETURN v_before + p_amount;
    EXCEPTION WHEN SQLSTATE 'WZJ01' THEN
        RETURN NULL;
    END;
END;
$$;

-- No foreign key to jackpots on purpose: each insert would KEY SHARE-lock the
-- pool's row, turning it back into a hot row. amount is what the pool took
-- (capped at the trigger); requested is what was offered.
CREATE TABLE jackpot_contributions (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    jackpot_id uuid NOT NULL,
    round integer NOT NULL,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    source_wager_id text NOT NULL,
    requested bigint NOT NULL CHECK (requested > 0),
    amount bigint NOT NULL CHECK (amount >= 0 AND amount <= requested),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mode, jackpot_id, source_wager_id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX jackpot_contributions_by_round
    ON jackpot_contributions (tenant_id, mode, jackpot_id, round, seq DESC);

-- One drop ends one round (the unique key makes a second payout impossible and
-- serves the history, newest round first). mystery holds the revealed seed and
-- drop point of the round it ended.
CREATE TABLE jackpot_drops (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    jackpot_id uuid NOT NULL,
    round integer NOT NULL,
    winner_id uuid NOT NULL,
    winner_username text NOT NULL,
    contribution_id uuid,
    amount bigint NOT NULL CHECK (amount > 0),
    pool_before bigint NOT NULL,
    pool_after bigint NOT NULL,
    trigger_reason text NOT NULL CHECK (trigger_reason IN ('manual', 'must_drop', 'mystery')),
    mystery jsonb,
    payout_entry_id bigint NOT NULL,
    seed_entry_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mode, jackpot_id, round),
    FOREIGN KEY (tenant_id, jackpot_id) REFERENCES jackpots (tenant_id, id),
    FOREIGN KEY (tenant_id, winner_id) REFERENCES players (tenant_id, id)
);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
