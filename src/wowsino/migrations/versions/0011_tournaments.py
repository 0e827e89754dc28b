"""Tournaments and their leaderboards.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- One number line for "who got there first": a score contribution takes its value when
-- it is recorded, an entry when the player enters. Ties on a leaderboard go to the
-- smaller number (the score reached first). Only the order matters, so one sequence
-- serves every realm.
CREATE SEQUENCE tournament_progress_seq;

-- A tournament: its configuration and state. Scoring never writes this row (every
-- wager of every player would queue on it): a scoring statement only takes it FOR KEY
-- SHARE, which a close's FOR UPDATE waits out, so a close sees every score committed
-- before it and none after. participants changes when a player enters.
-- Scores are integers in fixed point (see tournament_entries.score).
CREATE TABLE tournaments (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    name text NOT NULL,
    scoring text NOT NULL CHECK (scoring IN ('sum_wagered', 'sum_won', 'bet_count',
        'max_multiplier', 'sum_multipliers', 'points')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'closed')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    currency text REFERENCES assets (code),
    min_bet bigint CHECK (min_bet > 0),
    game_categories text[] CHECK (cardinality(game_categories) >= 1),
    opt_in boolean NOT NULL DEFAULT false,
    max_participants integer CHECK (max_participants > 0),
    participants integer NOT NULL DEFAULT 0 CHECK (participants >= 0),
    prize_table jsonb NOT NULL,
    recurrence jsonb,
    series_id uuid NOT NULL,
    instance integer NOT NULL CHECK (instance >= 1),
    closed_at timestamptz,
    close_trigger text CHECK (close_trigger IN ('manual', 'scheduled')),
    total_paid jsonb,
    next_instance_id uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    -- a recurring series gets each next instance once
    UNIQUE (tenant_id, mode, series_id, instance),
    CHECK (ends_at > starts_at),
    CHECK (max_participants IS NULL OR participants <= max_participants),
    CHECK (min_bet IS NULL OR currency IS NOT NULL),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX tournaments_listing ON tournaments (tenant_id, mode, created_at DESC, id DESC);
-- what a wager may score: the realm's active tournaments by end (the spine's probe)
CREATE INDEX tournaments_running ON tournaments (tenant_id, mode, ends_at)
    WHERE status = 'active';
-- what the worker closes: active tournaments past their end, any realm
CREATE INDEX tournaments_due ON tournaments (ends_at) WHERE status = 'active';

-- A closed tournament stays closed: its prizes are paid.
CREATE FUNCTION tournaments_keep_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'closed' AND (NEW.status <> 'closed' OR NEW.closed_at IS DISTINCT FROM
            OLD.closed_at OR NEW.total_paid IS DISTINCT FROM OLD.total_paid) THEN
        RAISE EXCEPTION 'tournament %: closed is final', OLD.id USING ERRCODE = 'WZT01';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER tournaments_closed_is_final BEFORE UPDATE ON tournaments
    FOR EACH ROW EXECUTE FUNCTION tournaments_keep_closed();

-- Who is in a tournament and their score. score is a fixed-point integer:
-- sum_wagered / sum_won in minor units of the tournament's currency, bet_count a count,
-- max_multiplier / sum_multipliers the multiplier (win / stake) times 10^6 rounded down
-- (at most 10^12 per wager, a multiplier of 1,000,000), points times 10^6; a score stops
-- at 10^18. reached is the progress number at which the current score was reached
-- (entered_seq while the score is 0). The leaderboard is the index below, read in
-- order: a top-N read and a player's rank never sort. It is kept narrow (no realm
-- columns, nothing included: a tournament id is unique, and its realm was checked when
-- the tournament was loaded) because a rank counts the index entries ahead of a player.
CREATE TABLE tournament_entries (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    tournament_id uuid NOT NULL,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    score bigint NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 1000000000000000000),
    reached bigint NOT NULL,
    entered_seq bigint NOT NULL,
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, tournament_id, player_id),
    FOREIGN KEY (tenant_id, tournament_id) REFERENCES tournaments (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX tournament_leaderboard ON tournament_entries (tournament_id, score DESC, reached);

-- What each wager (or POST /score) added to a tournament, deduped per tournament on
-- source_wager_id, so a rollback takes exactly it back and a max_multiplier score can
-- be recomputed from what is left. value is in the tournament's score units; amount,
-- win_amount and points are the content a repeated source_wager_id is compared with.
CREATE TABLE tournament_scores (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    tournament_id uuid NOT NULL,
    source_wager_id text NOT NULL,
    player_id uuid NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('tournament_progress_seq'),
    value bigint NOT NULL CHECK (value >= 0),
    amount bigint,
    win_amount bigint,
    points bigint,
    source text NOT NULL CHECK (source IN ('wager', 'api')),
    rolled_back_at timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, tournament_id, source_wager_id)
);
CREATE INDEX tournament_scores_by_player
    ON tournament_scores (tenant_id, mode, tournament_id, player_id, seq);
CREATE INDEX tournament_scores_by_wager ON tournament_scores (tenant_id, mode, source_wager_id);

-- One row per paid (or skipped) rank of a closed tournament: the key makes a second
-- payout of a rank impossible. Append-only.
CREATE TABLE tournament_payouts (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    tournament_id uuid NOT NULL,
    rank integer NOT NULL CHECK (rank >= 1),
    player_id uuid NOT NULL,
    score bigint NOT NULL,
    prize jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('paid', 'skipped')),
    reason text,
    detail jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, tournament_id, rank),
    FOREIGN KEY (tenant_id, tournament_id) REFERENCES tournaments (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE TRIGGER tournament_payouts_append_only BEFORE UPDATE OR DELETE ON tournament_payouts
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();
CREATE TRIGGER tournament_payouts_no_truncate BEFORE TRUNCATE ON tournament_payouts
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_truncate();
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
