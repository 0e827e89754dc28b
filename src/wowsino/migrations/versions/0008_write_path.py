"""The write path: key-change notifications for the API's key cache.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Every API process caches resolved keys (kernel/keycache.py) and empties its cache on a
-- notification of channel wowsino_keys, which PostgreSQL delivers at commit. Whatever
-- changes a key, a tenant or a brand (the API, the console, the CLI, plain SQL) notifies.
CREATE FUNCTION notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wowsino_keys', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_notify_change AFTER UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_key_change();
CREATE TRIGGER tenants_notify_change AFTER UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_key_change();
CREATE TRIGGER brands_notify_change AFTER UPDATE OR DELETE OR TRUNCATE ON brands
    FOR EACH STATEMENT EXECUTE FUNCTION notify_key_change();
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
