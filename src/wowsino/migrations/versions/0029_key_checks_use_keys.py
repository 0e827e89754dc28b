"""Foreign-key checks look rows up by the referenced key, whatever the statistics say.

PostgreSQL checks a foreign key with a query on the referenced table by the key's
columns, planned once per connection and kept until the table's statistics change.
Planned while a table is empty and not yet analyzed (a new database, until autovacuum
first analyzes it), every index that leads with ``tenant_id`` looks as cheap as the
key: the check of each VIP row against its wager picked ``wager_events_by_player`` and
filtered a tenant's whole wager history for every wager, until the first ANALYZE. The
two indexes that could be picked so now lead with the column they serve, which a key
check never names, and a test plans every foreign-key check on an empty schema.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02
"""

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX wager_events_by_player")
    op.execute("CREATE INDEX wager_events_by_player ON wager_events (player_id, tenant_id, mode, seq)")
    op.execute("DROP INDEX crm_campaigns_by_segment")
    op.execute("CREATE INDEX crm_campaigns_by_segment ON crm_campaigns (segment_id, tenant_id)")


def downgrade() -> None:
    op.execute("DROP INDEX crm_campaigns_by_segment")
    op.execute("CREATE INDEX crm_campaigns_by_segment ON crm_campaigns (tenant_id, segment_id)")
    op.execute("DROP INDEX wager_events_by_player")
    op.execute("CREATE INDEX wager_events_by_player ON wager_events "
               "(tenant_id, mode, player_id, seq)")
