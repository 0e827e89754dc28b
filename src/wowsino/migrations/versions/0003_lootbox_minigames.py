"""Lootboxes and mini-games.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Every prize table ever configured, addressed by its published hash, so each
-- result can be recomputed against the exact table it was drawn from.
CREATE TABLE prize_table_versions (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    hash text NOT NULL,
    prize_table jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, hash)
);

CREATE TABLE lootboxes (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    name text NOT NULL,
    prize_table jsonb NOT NULL,
    prize_table_hash text NOT NULL,
    cost_winz bigint NOT NULL DEFAULT 0 CHECK (cost_winz >= 0),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX lootboxes_listing ON lootboxes (tenant_id, mode, created_at DESC, id DESC);

-- One row per open with every published input of its draw.
CREATE TABLE lootbox_opens (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    lootbox_id uuid NOT NULL,
    player_id uuid NOT NULL,
    segment_index integer NOT NULL,
    segment_label text NOT NULL,
    asset text NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    cost_winz bigint NOT NULL CHECK (cost_winz >= 0),
    server_seed text NOT NULL,
    server_seed_hash text NOT NULL,
    client_seed text NOT NULL,
    next_server_seed_hash text NOT NULL,
    prize_table_hash text NOT NULL,
    reward_entry_id bigint,
    cost_entry_id bigint,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, lootbox_id) REFERENCES lootboxes (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id),
    FOREIGN KEY (tenant_id, mode, prize_table_hash)
        REFERENCES prize_table_versions (tenant_id, mode, hash)
);
CREATE INDEX lootbox_opens_by_box
    ON lootbox_opens (tenant_id, mode, lootbox_id, created_at DESC, id DESC);
CREATE INDEX lootbox_opens_by_player
    ON lootbox_opens (tenant_id, mode, lootbox_id, player_id, created_at DESC, id DESC);

CREATE TABLE mini_games (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('wheel', 'scratch', 'pick')),
    prize_table jsonb NOT NULL,
    prize_table_hash text NOT NULL,
    cost_winz bigint NOT NULL DEFAULT 0 CHECK (cost_winz >= 0),
    plays_per_day integer CHECK (plays_per_day > 0),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX mini_games_listing ON mini_games (tenant_id, mode, created_at DESC, id DESC);

CREATE TABLE mini_game_plays (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    mini_game_id uuid NOT NULL,
    player_id uuid NOT NULL,
    segment_index integer NOT NULL,
    segment_label text NOT NULL,
    asset text NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    cost_winz bigint NOT NULL CHECK (cost_winz >= 0),
    server_seed text NOT NULL,
    server_seed_hash text NOT NULL,
    client_seed text NOT NULL,
    next_server_seed_hash text NOT NULL,
    prize_table_hash text NOT NULL,
    reward_entry_id bigint,
    cost_entry_id bigint,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, mini_game_id) REFERENCES mini_games (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id),
    FOREIGN KEY (tenant_id, mode, prize_table_hash)
        REFERENCES prize_table_versions (tenant_id, mode, hash)
);
CREATE INDEX mini_game_plays_by_game
    ON mini_game_plays (tenant_id, mode, mini_game_id, created_at DESC, id DESC);
-- Also serves the plays-per-day count (player, game, day).
CREATE INDEX mini_game_plays_by_player
    ON mini_game_plays (tenant_id, mode, mini_game_id, player_id, created_at DESC, id DESC);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
