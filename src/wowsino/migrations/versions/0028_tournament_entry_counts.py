"""Entries into a race without ``max_participants`` are counted apart from its row.

Entering a player used to add to ``tournaments.participants``, an update that holds the
race's row until the transaction commits: at a race's start, when every wager enters a
new player, every wager transaction queued on that one row. A race without a cap now
takes its row ``FOR KEY SHARE`` only (as scoring does) and each entering transaction adds
to one of 32 counters, the one of its server process (``pg_backend_pid() % 32``), so two
transactions meet only when their processes share a stripe. The count of a race is
``participants`` plus its stripes; capping a running race folds the stripes into
``participants`` under the row's lock, and a capped race admits one transaction at a
time, on the row, as before.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE tournament_entry_counts (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    tournament_id uuid NOT NULL,
    stripe smallint NOT NULL CHECK (stripe BETWEEN 0 AND 31),
    entered bigint NOT NULL CHECK (entered >= 0),
    PRIMARY KEY (tenant_id, mode, tournament_id, stripe),
    FOREIGN KEY (tenant_id, tournament_id) REFERENCES tournaments (tenant_id, id)
)
""")


def downgrade() -> None:
    op.execute("""
UPDATE tournaments t SET participants = t.participants + c.entered
  FROM (SELECT tenant_id, tournament_id, sum(entered) AS entered
          FROM tournament_entry_counts GROUP BY tenant_id, tournament_id) c
 WHERE t.tenant_id = c.tenant_id AND t.id = c.tournament_id
""")
    op.execute("DROP TABLE tournament_entry_counts")
