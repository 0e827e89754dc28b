"""The wager spine, activity stats, bonuses and jurisdiction profiles.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Every settled wager the operator reported, deduped on (realm, source_wager_id).
-- fingerprint covers the event's content: the same id with other content is refused.
-- effects is the stored answer a replay returns.
CREATE TABLE wager_events (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    source_wager_id text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    currency text NOT NULL REFERENCES assets (code),
    amount bigint NOT NULL CHECK (amount > 0),
    win_amount bigint NOT NULL CHECK (win_amount >= 0),
    game_id text,
    game_category text NOT NULL
        CHECK (game_category IN ('slots', 'table', 'live', 'sports', 'other')),
    funding text NOT NULL CHECK (funding IN ('real', 'bonus')),
    settled_at timestamptz NOT NULL,
    fingerprint bytea NOT NULL,
    effects jsonb NOT NULL DEFAULT '{}',
    rolled_back_at timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, source_wager_id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX wager_events_by_player ON wager_events (tenant_id, mode, player_id, seq);

CREATE TABLE deposit_events (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    source_deposit_id text NOT NULL,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    currency text NOT NULL REFERENCES assets (code),
    amount bigint NOT NULL CHECK (amount > 0),
    promo_code text,
    first_deposit boolean NOT NULL,
    fingerprint bytea NOT NULL,
    effects jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, source_deposit_id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);

-- Per-player counters, one row per currency, maintained by the spine.
CREATE TABLE player_stats (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    player_id uuid NOT NULL,
    currency text NOT NULL REFERENCES assets (code),
    deposit_count integer NOT NULL DEFAULT 0,
    total_deposited bigint NOT NULL DEFAULT 0,
    first_deposit_at timestamptz,
    last_deposit_at timestamptz,
    wager_count bigint NOT NULL DEFAULT 0,
    total_wagered bigint NOT NULL DEFAULT 0,
    total_won bigint NOT NULL DEFAULT 0,
    last_wager_at timestamptz,
    PRIMARY KEY (tenant_id, mode, player_id, currency),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);

-- Per player, per UTC day, per currency and rail (real | bonus): wagered, won, net.
CREATE TABLE player_stats_daily (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    player_id uuid NOT NULL,
    day date NOT NULL,
    currency text NOT NULL,
    rail text NOT NULL CHECK (rail IN ('real', 'bonus')),
    game_category text NOT NULL,
    bets bigint NOT NULL DEFAULT 0,
    wagered bigint NOT NULL DEFAULT 0,
    won bigint NOT NULL DEFAULT 0,
    net bigint GENERATED ALWAYS AS (won - wagered) STORED,
    PRIMARY KEY (tenant_id, mode, player_id, day, currency, rail, game_category)
);

CREATE TABLE bonus_templates (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    name text NOT NULL,
    type text NOT NULL CHECK (type IN ('no_deposit', 'deposit_match', 'free_spins', 'cashback',
        'reload', 'rakeback', 'lossback', 'referral', 'vip_comp', 'ticket', 'drops', 'manual')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    promo_code text,
    currency text NOT NULL REFERENCES assets (code),
    terms jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX bonus_templates_promo_code
    ON bonus_templates (tenant_id, mode, upper(promo_code)) WHERE promo_code IS NOT NULL;
CREATE INDEX bonus_templates_listing ON bonus_templates (tenant_id, mode, created_at DESC, id DESC);

-- One grant of a template to a player. balance is what is left of the bonus money.
CREATE TABLE bonuses (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    template_id uuid NOT NULL,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    type text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'active', 'completed', 'expired',
        'forfeited', 'cancelled')),
    currency text NOT NULL REFERENCES assets (code),
    bonus_amount bigint NOT NULL CHECK (bonus_amount >= 0),
    balance bigint NOT NULL CHECK (balance >= 0),
    deposit_amount bigint,
    wagering_required bigint NOT NULL CHECK (wagering_required >= 0),
    wagering_completed bigint NOT NULL DEFAULT 0 CHECK (wagering_completed >= 0),
    terms jsonb NOT NULL,
    source text NOT NULL,
    source_ref text,
    reason text,
    expires_at timestamptz,
    granted_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason text,
    real_credited bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id),
    FOREIGN KEY (tenant_id, template_id) REFERENCES bonus_templates (tenant_id, id)
);
CREATE INDEX bonuses_active ON bonuses (tenant_id, mode, player_id, seq)
    WHERE status IN ('pending', 'active');
CREATE INDEX bonuses_by_player ON bonuses (tenant_id, mode, player_id, seq DESC);
CREATE INDEX bonuses_expiring ON bonuses (expires_at) WHERE status IN ('pending', 'active');
-- An automatic grant (deposit match, referral) happens once per source.
CREATE UNIQUE INDEX bonuses_one_per_source
    ON bonuses (tenant_id, mode, template_id, player_id, source, source_ref)
    WHERE source_ref IS NOT NULL;

-- Terminal states are terminal, whatever the code does.
CREATE FUNCTION bonuses_keep_terminal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('completed', 'expired', 'forfeited', 'cancelled') THEN
        RAISE EXCEPTION 'bonus % is %: a terminal state never changes', OLD.id, OLD.status
            USING ERRCODE = 'WZB01';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
        (OLD.status = 'pending' AND NEW.status IN ('active', 'cancelled', 'completed',
                                                   'expired', 'forfeited'))
        OR (OLD.status = 'active' AND NEW.status IN ('completed', 'expired', 'forfeited'))
    ) THEN
        RAISE EXCEPTION 'bonus %: % cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'WZB01';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER bonuses_terminal BEFORE UPDATE ON bonuses
    FOR EACH ROW EXECUTE FUNCTION bonuses_keep_terminal();

-- What each wager added to each bonus (weighted), so a rollback takes exactly it back.
CREATE TABLE bonus_wagering (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    bonus_id uuid NOT NULL,
    source_wager_id text NOT NULL,
    game_category text NOT NULL,
    stake bigint NOT NULL,
    weighted bigint NOT NULL CHECK (weighted >= 0),
    rolled_back boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, source_wager_id, bonus_id)
);
CREATE INDEX bonus_wagering_by_bonus ON bonus_wagering (tenant_id, mode, bonus_id);

-- max_grants_per_player under concurrency: one counter row per (template, player).
CREATE TABLE bonus_grant_counts (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    template_id uuid NOT NULL,
    player_id uuid NOT NULL,
    grants integer NOT NULL CHECK (grants >= 0),
    PRIMARY KEY (tenant_id, mode, template_id, player_id)
);

-- A drops promotion's draw state: the server seed is committed (its hash shown) when
-- the template is created and revealed when the prize pool is exhausted; remaining
-- counts the prizes left, by prize index.
CREATE TABLE bonus_drops (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    template_id uuid NOT NULL,
    server_seed text NOT NULL,
    server_seed_hash text NOT NULL,
    remaining integer[] NOT NULL,
    exhausted_at timestamptz,
    PRIMARY KEY (tenant_id, mode, template_id),
    FOREIGN KEY (tenant_id, template_id) REFERENCES bonus_templates (tenant_id, id)
);

-- Each winning wager of a drops promotion, once.
CREATE TABLE bonus_drop_wins (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    template_id uuid NOT NULL,
    source_wager_id text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    player_id uuid NOT NULL,
    prize_index integer NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    bonus_id uuid,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, template_id, source_wager_id)
);

-- Who referred whom (players.referred_by on upsert), for referral bonuses.
ALTER TABLE players ADD COLUMN referred_by uuid;

-- A brand's jurisdiction profile: a named base profile plus overrides.
CREATE TABLE jurisdiction_profiles (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    brand_id uuid NOT NULL,
    profile text NOT NULL,
    overrides jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, brand_id),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id)
);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
