"""VIP: ladders, XP and cashback.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Each player's VIP standing: the level and XP (a cache of the xp rail's balance,
-- kept in the same transaction as every XP posting). The CRM's segments read it.
CREATE TABLE vip_players (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    player_id uuid NOT NULL,
    level integer NOT NULL,
    xp bigint NOT NULL DEFAULT 0 CHECK (xp >= 0),
    level_changed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, player_id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX vip_players_by_level ON vip_players (tenant_id, mode, level);

-- XP earned before this revision (lootbox and mini-game prizes, adjustments) is cached too;
-- level 0 is "no level yet": the first ladder a tenant sets places every player.
INSERT INTO vip_players (tenant_id, mode, player_id, level, xp, level_changed_at)
SELECT a.tenant_id, a.mode, p.id, 0, a.balance, now()
FROM ledger_accounts a JOIN players p ON p.tenant_id = a.tenant_id AND p.mode = a.mode
    AND p.id::text = a.owner_key
WHERE a.owner_type = 'player' AND a.rail = 'xp' AND a.asset = 'XP' AND a.balance > 0;

-- A realm's VIP programme: how wagers earn XP, the ladder and its cashback.
-- levels: [{level, name, xp_required, cashback_pct, level_up_reward}], strictly increasing,
-- the first at xp_required 0 (checked by the service; kept whole so one read has it all).
CREATE TABLE vip_configs (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    xp_per_unit numeric NOT NULL CHECK (xp_per_unit > 0),
    xp_daily_cap bigint NOT NULL CHECK (xp_daily_cap > 0),
    timezone text NOT NULL,
    cashback_period text NOT NULL CHECK (cashback_period IN ('daily', 'weekly', 'monthly')),
    cashback_as text NOT NULL CHECK (cashback_as IN ('bonus', 'real')),
    cashback_template_id uuid,
    levels jsonb NOT NULL CHECK (jsonb_typeof(levels) = 'array'),
    version integer NOT NULL DEFAULT 1,
    -- the local day after the last period whose cashback run finished
    cashback_paid_until date,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode),
    FOREIGN KEY (tenant_id, cashback_template_id) REFERENCES bonus_templates (tenant_id, id)
);

-- Per player and local calendar day (in the programme's time zone): the XP wagers earned
-- (capped at xp_daily_cap) and the real money wagered and won in the player's currency
-- (the cashback's net loss, exact in local time).
CREATE TABLE vip_days (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    player_id uuid NOT NULL,
    day date NOT NULL,
    xp bigint NOT NULL DEFAULT 0 CHECK (xp >= 0),
    real_wagered bigint NOT NULL DEFAULT 0,
    real_won bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, mode, player_id, day),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX vip_days_by_day ON vip_days (tenant_id, mode, day);

-- What each real-money wager counted, so that its rollback takes exactly that back.
CREATE TABLE vip_wagers (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    source_wager_id text NOT NULL,
    player_id uuid NOT NULL,
    day date NOT NULL,
    xp bigint NOT NULL CHECK (xp >= 0),
    real_wagered bigint NOT NULL,
    real_won bigint NOT NULL,
    created_at timestamptz NOT NULL,
    rolled_back_at timestamptz,
    PRIMARY KEY (tenant_id, mode, source_wager_id),
    FOREIGN KEY (tenant_id, mode, source_wager_id)
        REFERENCES wager_events (tenant_id, mode, source_wager_id)
);

-- A level's reward, once per player and level, ever: granted, withheld while the player
-- was held from engagement (responsible gambling), or refused (reason: the error code).
CREATE TABLE vip_level_rewards (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    player_id uuid NOT NULL,
    level integer NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('granted', 'skipped', 'refused')),
    reason text,
    reward jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, player_id, level),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE TRIGGER vip_level_rewards_append_only BEFORE UPDATE OR DELETE ON vip_level_rewards
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();

-- One cashback decision per player and period, written in the transaction of its grant:
-- a run that stops half-way resumes without paying anyone twice.
CREATE TABLE vip_cashback (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    player_id uuid NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL CHECK (period_end > period_start),
    currency text NOT NULL REFERENCES assets (code),
    net_loss bigint NOT NULL,
    level integer NOT NULL,
    cashback_pct numeric NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    outcome text NOT NULL CHECK (outcome IN ('granted', 'refused', 'nothing')),
    granted_as text CHECK (granted_as IN ('bonus', 'real')),
    detail jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, player_id, period_start),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE TRIGGER vip_cashback_append_only BEFORE UPDATE OR DELETE ON vip_cashback
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
