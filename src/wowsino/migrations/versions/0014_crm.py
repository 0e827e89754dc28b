"""CRM: segments, campaigns, runs and budgets.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A segment: a named expression over the players of one brand (docs/crm.md). The
-- expression is stored as written and compiled to parameterised SQL when it is used.
CREATE TABLE crm_segments (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    name text NOT NULL,
    expression text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id)
);
CREATE INDEX crm_segments_listing ON crm_segments (tenant_id, mode, brand_id, created_at DESC, id DESC);

-- A campaign: a segment, an action and a schedule. next_run_at is the next scheduled
-- run in UTC (NULL for "once" campaigns and paused ones are skipped by the worker).
CREATE TABLE crm_campaigns (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    segment_id uuid NOT NULL,
    name text NOT NULL,
    action jsonb NOT NULL,
    asset text REFERENCES assets (code),
    schedule jsonb NOT NULL,
    budget bigint CHECK (budget > 0),
    max_per_player_per_month integer CHECK (max_per_player_per_month > 0),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_reason text,
    next_run_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id),
    FOREIGN KEY (tenant_id, segment_id) REFERENCES crm_segments (tenant_id, id)
);
CREATE INDEX crm_campaigns_listing ON crm_campaigns (tenant_id, mode, brand_id, created_at DESC, id DESC);
CREATE INDEX crm_campaigns_due ON crm_campaigns (next_run_at) WHERE status = 'active';
CREATE INDEX crm_campaigns_by_segment ON crm_campaigns (tenant_id, segment_id);

-- One run of a campaign. The expression, action and budget are copied when it starts,
-- so every batch of the run works to the same terms. after_player is the cursor: each
-- batch (its own transaction) handles the next players by id and moves it.
CREATE TABLE crm_runs (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    campaign_id uuid NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    idempotency_key text,
    scheduled_for timestamptz,
    segment_at timestamptz NOT NULL,
    expression text NOT NULL,
    action jsonb NOT NULL,
    asset text,
    budget bigint,
    status text NOT NULL CHECK (status IN ('running', 'completed', 'budget_reached')),
    after_player uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    processed integer NOT NULL DEFAULT 0,
    granted integer NOT NULL DEFAULT 0,
    skipped jsonb NOT NULL DEFAULT '{}',
    cost bigint NOT NULL DEFAULT 0,
    stopped_by text,
    started_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    finished_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES crm_campaigns (tenant_id, id)
);
CREATE INDEX crm_runs_by_campaign ON crm_runs (tenant_id, campaign_id, seq DESC);
CREATE INDEX crm_runs_running ON crm_runs (seq) WHERE status = 'running';
-- at most one run of a campaign at a time; a scheduled time runs once; a manual run's
-- idempotency key names one run
CREATE UNIQUE INDEX crm_runs_one_running ON crm_runs (tenant_id, campaign_id)
    WHERE status = 'running';
CREATE UNIQUE INDEX crm_runs_one_per_time ON crm_runs (tenant_id, campaign_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;
CREATE UNIQUE INDEX crm_runs_by_key ON crm_runs (tenant_id, campaign_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- What a run did for each player, once: the primary key is the exactly-once guarantee,
-- written in the same transaction as the grant it records.
CREATE TABLE crm_run_results (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    run_id uuid NOT NULL,
    player_id uuid NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('granted', 'skipped')),
    reason text,
    cost bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, run_id, player_id)
);

-- max_per_player_per_month: grants of a campaign to a player per UTC month.
CREATE TABLE crm_player_grants (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    campaign_id uuid NOT NULL,
    player_id uuid NOT NULL,
    month date NOT NULL,
    grants integer NOT NULL CHECK (grants > 0),
    PRIMARY KEY (tenant_id, mode, campaign_id, player_id, month)
);

-- The tenant's monthly promotion budget per asset (PUT /v1/crm/budget), and what
-- campaign grants spent, per UTC day. reached_month: the month crm.budget_reached was
-- sent for (once per month and asset).
CREATE TABLE crm_budgets (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    asset text NOT NULL REFERENCES assets (code),
    monthly_limit bigint NOT NULL CHECK (monthly_limit > 0),
    reached_month date,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, asset)
);
CREATE TABLE crm_budget_spend (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    asset text NOT NULL,
    day date NOT NULL,
    spent bigint NOT NULL CHECK (spent >= 0),
    PRIMARY KEY (tenant_id, mode, asset, day)
);

-- Indexes the CRM relies on (docs/crm.md#indexes):
-- a run walks a brand's players in id order; the preview counts a brand's players
CREATE INDEX players_by_brand_id ON players (tenant_id, mode, brand_id, id);
-- net_loss_7d / net_loss_30d and backtests read a realm's recent days
CREATE INDEX player_stats_daily_by_day ON player_stats_daily (tenant_id, mode, day);
-- a reload's basis (the last deposit) and the RG holds' deposits of the last 24 hours
CREATE INDEX deposit_events_by_player ON deposit_events (tenant_id, mode, player_id, created_at);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
