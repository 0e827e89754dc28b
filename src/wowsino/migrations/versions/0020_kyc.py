"""KYC vendors: a brand's KYC adapter, verification sessions, and the vendor's decisions
kept beside the manual ones.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A brand's KYC vendor: the adapter, its credentials (write-only through the API) and the
-- level a verification with it reaches.
CREATE TABLE kyc_configs (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    brand_id uuid NOT NULL,
    adapter text NOT NULL,
    credentials jsonb NOT NULL DEFAULT '{}',
    level integer NOT NULL CHECK (level BETWEEN 1 AND 3),
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, brand_id),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id)
);

-- A verification session at the vendor: pending until a decision arrives. ``decided_at``
-- is the vendor's time of the newest decision about this session (decisions may arrive out
-- of order).
CREATE TABLE kyc_sessions (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    player_id uuid NOT NULL,
    adapter text NOT NULL,
    level integer NOT NULL CHECK (level BETWEEN 1 AND 3),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'failed')),
    rejection text CHECK (rejection IN ('retry', 'final')),
    reason text,
    vendor_session_id text,
    verification_url text,
    callback_base text NOT NULL,
    started_by text NOT NULL,
    expires_at timestamptz NOT NULL,
    decided_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id),
    CHECK (expires_at > created_at)
);
CREATE INDEX kyc_sessions_by_player ON kyc_sessions (tenant_id, mode, player_id,
    created_at DESC, id DESC);

-- A vendor's decision is kept like a manual one, with what orders and dedupes it: the
-- session it is about, the vendor's own identity of the decision (a repeat is refused by
-- the unique index), the vendor's time of the decision, and whether it changed the
-- player (``applied``) or came after a newer one (``stale``: kept, changes nothing).
-- A manual decision leaves the new columns empty: its time is ``created_at``.
ALTER TABLE kyc_decisions
    ADD COLUMN session_id uuid,
    ADD COLUMN vendor_decision_id text,
    ADD COLUMN decided_at timestamptz,
    ADD COLUMN rejection text CHECK (rejection IN ('retry', 'final')),
    ADD COLUMN outcome text NOT NULL DEFAULT 'applied' CHECK (outcome IN ('applied', 'stale')),
    ADD COLUMN body text;
CREATE UNIQUE INDEX kyc_decisions_once ON kyc_decisions (tenant_id, mode, source,
    vendor_decision_id) WHERE vendor_decision_id IS NOT NULL;
CREATE INDEX kyc_decisions_in_force ON kyc_decisions (tenant_id, mode, player_id,
    (coalesce(decided_at, created_at)) DESC) WHERE outcome = 'applied';
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
