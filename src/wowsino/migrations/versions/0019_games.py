"""Games and the seamless wallet: game sessions, rounds and the aggregators' transactions.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A launched game: bound to one player, brand, currency and game of one aggregator. The
-- token is stored only as SHA-256 and is looked up before the tenant is known (an
-- aggregator's call names no tenant), like player sessions.
CREATE TABLE game_sessions (
    token_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    player_id uuid NOT NULL,
    adapter text NOT NULL,
    game_id text NOT NULL,
    currency text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    UNIQUE (tenant_id, mode, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id),
    CHECK (expires_at > created_at)
);
CREATE INDEX game_sessions_by_player ON game_sessions (tenant_id, mode, player_id, created_at DESC);

-- A game round: what its standing bets staked (cash and bonus money, in minor units of
-- the round's currency) and what its wins paid, which is the split of its next win.
CREATE TABLE game_rounds (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    adapter text NOT NULL,
    round_id text NOT NULL,
    player_id uuid NOT NULL,
    game_id text NOT NULL,
    currency text NOT NULL,
    cash_staked bigint NOT NULL DEFAULT 0 CHECK (cash_staked >= 0),
    bonus_staked bigint NOT NULL DEFAULT 0 CHECK (bonus_staked >= 0),
    cash_won bigint NOT NULL DEFAULT 0 CHECK (cash_won >= 0),
    bonus_won bigint NOT NULL DEFAULT 0 CHECK (bonus_won >= 0),
    void_won bigint NOT NULL DEFAULT 0 CHECK (void_won >= 0),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, adapter, round_id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX game_rounds_by_player ON game_rounds (tenant_id, mode, player_id, created_at DESC);

-- Every bet, win and rollback an aggregator sent, once per (adapter, transaction_id): the
-- row is claimed first in the call's transaction, so a replay or a concurrent duplicate
-- finds it and answers its stored outcome; the same id with other content (fingerprint)
-- is refused. A rollback of a bet never seen leaves a 'voided' bet under that id, so the
-- bet is refused if it comes after all.
--   cash, bonus: what moved, in minor units (a bet's stake split, a win's credit, a
--   rollback's refund); void: a win's bonus share that found no active bonus;
--   bonus_moves: per bonus, how its balance changed (a bet's, for its rollback).
CREATE TABLE game_transactions (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    adapter text NOT NULL,
    transaction_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('bet', 'win', 'rollback')),
    player_id uuid NOT NULL,
    session_id uuid,
    round_id text,
    game_id text,
    currency text NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    cash bigint NOT NULL DEFAULT 0 CHECK (cash >= 0),
    bonus bigint NOT NULL DEFAULT 0 CHECK (bonus >= 0),
    void bigint NOT NULL DEFAULT 0 CHECK (void >= 0),
    bonus_moves jsonb NOT NULL DEFAULT '{}',
    reference_transaction_id text,
    status text NOT NULL CHECK (status IN ('pending', 'accepted', 'refused', 'rolled_back',
                                           'voided')),
    entry_id bigint,
    fingerprint bytea NOT NULL,
    outcome jsonb,
    created_at timestamptz NOT NULL,
    settled_at timestamptz,
    rolled_back_at timestamptz,
    PRIMARY KEY (tenant_id, mode, adapter, transaction_id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id),
    CHECK (cash + bonus + void <= amount OR kind = 'rollback')
);
CREATE INDEX game_transactions_round_bets ON game_transactions
    (tenant_id, mode, adapter, round_id, created_at) WHERE kind = 'bet';
-- a player's open bets (accepted, not yet settled): the RG limits count them
CREATE INDEX game_transactions_open_bets ON game_transactions (tenant_id, mode, player_id,
    created_at) WHERE kind = 'bet' AND status = 'accepted' AND settled_at IS NULL;
CREATE INDEX game_transactions_by_player ON game_transactions
    (tenant_id, mode, player_id, created_at DESC);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
