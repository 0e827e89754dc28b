"""Player self-service: self-exclusion with its end, the sweep of old login failures.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- A self-exclusion the player asked for: its period, when it started, when it ends
-- (NULL: permanent) and the status to return to when it ends. While one runs the
-- status is self_excluded and the operator cannot set it back (SELF_EXCLUSION_ACTIVE).
ALTER TABLE players
    ADD COLUMN self_exclusion_period text
        CHECK (self_exclusion_period IN ('6m', '1y', '5y', 'permanent')),
    ADD COLUMN self_excluded_at timestamptz,
    ADD COLUMN self_excluded_until timestamptz,
    ADD COLUMN self_exclusion_prior_status text,
    ADD CONSTRAINT players_self_exclusion_whole CHECK (
        (self_exclusion_period IS NULL AND self_excluded_at IS NULL
         AND self_excluded_until IS NULL AND self_exclusion_prior_status IS NULL)
        OR (self_exclusion_period IS NOT NULL AND self_excluded_at IS NOT NULL
            AND self_exclusion_prior_status IS NOT NULL
            AND (self_exclusion_period = 'permanent') = (self_excluded_until IS NULL)));

-- The worker lifts timed self-exclusions at their end.
CREATE INDEX players_self_exclusion_ends ON players (self_excluded_until)
    WHERE self_excluded_until IS NOT NULL;

-- The worker forgets login failures older than the lock-out window.
CREATE INDEX login_failures_by_time ON login_failures (at);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
