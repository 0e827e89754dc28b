"""CRM: segments, campaigns, runs and budgets.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SCHEMA = r"""
SELECT 1;
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
