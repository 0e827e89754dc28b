"""Bonus money follows bonus-funded wagers: what each wager moved on each bonus.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- balance_delta: what a bonus-funded wager moved on the bonus's balance (its stake
-- taken, its win added), so that a rollback can take exactly that back.
ALTER TABLE bonus_wagering ADD COLUMN balance_delta bigint NOT NULL DEFAULT 0;
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
