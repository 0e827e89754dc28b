"""Raffles.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A raffle commits to its server seed at creation (only the hash is shown until
-- the draw). total_tickets is the next ticket number: entries take their range
-- under a lock on this row, so numbering is gap-free.
CREATE TABLE raffles (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    name text NOT NULL,
    ticket_cost_winz bigint NOT NULL CHECK (ticket_cost_winz >= 0),
    prize_winz bigint NOT NULL CHECK (prize_winz > 0),
    max_tickets_per_player bigint CHECK (max_tickets_per_player > 0),
    draw_at timestamptz,
    status text NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'cancelled')),
    server_seed text NOT NULL,
    server_seed_hash text NOT NULL,
    total_tickets bigint NOT NULL DEFAULT 0 CHECK (total_tickets >= 0),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX raffles_listing ON raffles (tenant_id, mode, created_at DESC, id DESC);
CREATE INDEX raffles_due ON raffles (draw_at) WHERE status = 'active' AND draw_at IS NOT NULL;

-- One row per purchase: tickets first_ticket_idx .. first_ticket_idx + tickets - 1.
-- username is the snapshot published in the ticket list (the hashed bytes never change).
CREATE TABLE raffle_entries (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    raffle_id uuid NOT NULL,
    player_id uuid NOT NULL,
    brand_id uuid NOT NULL,
    username text NOT NULL,
    tickets bigint NOT NULL CHECK (tickets > 0),
    first_ticket_idx bigint NOT NULL CHECK (first_ticket_idx >= 0),
    winz_debited bigint NOT NULL CHECK (winz_debited >= 0),
    ledger_entry_id bigint,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, raffle_id, first_ticket_idx),
    FOREIGN KEY (tenant_id, raffle_id) REFERENCES raffles (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX raffle_entries_by_player ON raffle_entries (tenant_id, raffle_id, player_id);

-- At most one draw per raffle; it keeps every published input of the result.
CREATE TABLE raffle_draws (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    raffle_id uuid NOT NULL,
    winner_player_id uuid NOT NULL,
    winner_username text NOT NULL,
    winning_ticket_idx bigint NOT NULL,
    skipped_ticket_idxs bigint[] NOT NULL DEFAULT '{}',
    total_tickets bigint NOT NULL,
    prize_winz bigint NOT NULL,
    server_seed text NOT NULL,
    server_seed_hash text NOT NULL,
    client_seed text NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
    ledger_entry_id bigint,
    drawn_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, raffle_id),
    FOREIGN KEY (tenant_id, raffle_id) REFERENCES raffles (tenant_id, id),
    FOREIGN KEY (tenant_id, winner_player_id) REFERENCES players (tenant_id, id)
);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
