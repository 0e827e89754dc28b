"""A brand's game aggregators: whether each is on, the secret its calls are signed with
(write-only through the API) and where its launched games open.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-04
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- One row per brand and aggregator the operator configured; none: the platform's
-- settings (its secret, its launch address), the aggregator on.
--   secret: the brand's own signing secret (NULL: the platform's); a wallet call is
--   verified with the secret of the brand its game session token names.
--   launch_url: the base address a launched game opens at (NULL: the platform's).
CREATE TABLE aggregator_configs (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    brand_id uuid NOT NULL,
    adapter text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    secret text CHECK (length(secret) >= 16),
    launch_url text,
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, brand_id, adapter),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id)
);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
