"""The wallet: deposits, withdrawals, PSP configuration and callbacks, KYC decisions.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SCHEMA = r"""
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
