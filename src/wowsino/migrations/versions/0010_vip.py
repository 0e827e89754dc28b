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
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
