"""Two-person approval of large manual adjustments made in the console: the tenant's
threshold per asset, and the adjustments waiting for a second operator.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- {asset: minor units}: a console adjustment of more than this (either sign) waits for a
-- second operator. An asset not named: no second operator is needed.
ALTER TABLE tenants ADD COLUMN adjustment_approval_above jsonb NOT NULL DEFAULT '{}';

-- A console adjustment above the threshold, asked for by one operator and applied (or
-- refused) by another. The ledger entry is posted only on approval, through the same
-- service as POST /v1/players/<key>/adjustments.
CREATE TABLE adjustment_requests (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    player_id uuid NOT NULL,
    rail text NOT NULL CHECK (rail IN ('real', 'bonus', 'winz', 'xp')),
    asset text NOT NULL REFERENCES assets (code),
    amount bigint NOT NULL CHECK (amount <> 0),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by text,
    decided_at timestamptz,
    decision_reason text CHECK (length(decision_reason) <= 500),
    entry_id bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX adjustment_requests_pending ON adjustment_requests (tenant_id, mode, requested_at)
    WHERE status = 'pending';
CREATE INDEX adjustment_requests_by_player ON adjustment_requests (tenant_id, mode, player_id,
    requested_at DESC);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
