"""Player engagement: the player's own routes over the engines.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

SCHEMA = r"""
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
