"""Journeys and their progress.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A journey: entered on entry_trigger, then a sequence of steps, each
-- {trigger, count, min_amount, within_hours}; triggers lists every step's trigger so the
-- spine's consumers find the journeys a trigger concerns in one read.
CREATE TABLE journeys (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    name text NOT NULL,
    entry_trigger text NOT NULL,
    steps jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array' AND jsonb_array_length(steps) > 0),
    triggers text[] NOT NULL,
    reward_winz bigint NOT NULL DEFAULT 0 CHECK (reward_winz >= 0),
    reward_bonus_template_id uuid,
    reward_lootbox_id uuid,
    time_limit_hours integer CHECK (time_limit_hours > 0),
    repeatable boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, id),
    FOREIGN KEY (tenant_id, reward_bonus_template_id) REFERENCES bonus_templates (tenant_id, id)
);
CREATE INDEX journeys_listing ON journeys (tenant_id, mode, created_at DESC, id DESC);

-- A player's run of a journey (the latest one: a repeatable journey starts over in the
-- same row, its run number one higher). step counts the steps done; step_count the
-- matching triggers of the current step. expires_at is the earlier of the journey's
-- time limit and the current step's within_hours.
CREATE TABLE journey_players (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    journey_id uuid NOT NULL,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    run integer NOT NULL DEFAULT 1 CHECK (run > 0),
    status text NOT NULL CHECK (status IN ('active', 'completed', 'expired')),
    step integer NOT NULL DEFAULT 0 CHECK (step >= 0),
    step_count integer NOT NULL DEFAULT 0 CHECK (step_count >= 0),
    step_started_at timestamptz NOT NULL,
    started_at timestamptz NOT NULL,
    expires_at timestamptz,
    ended_at timestamptz,
    reward jsonb,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, journey_id, player_id),
    FOREIGN KEY (tenant_id, mode, journey_id) REFERENCES journeys (tenant_id, mode, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX journey_players_by_player
    ON journey_players (tenant_id, mode, player_id, started_at DESC, journey_id DESC);
CREATE INDEX journey_players_expiring ON journey_players (expires_at) WHERE status = 'active';
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
