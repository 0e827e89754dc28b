"""Robustness: amount bounds, no reversal of a reversal, append-only tables refuse TRUNCATE,
case-insensitive usernames.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import logging

import sqlalchemy as sa
from alembic import op

from wowsino.kernel.db import split_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = r"""
-- Amount bounds (docs/concepts.md): the most one posting of an asset may move and one
-- cached balance may hold, in minor units; kernel.money.Asset.max_minor mirrors it. At
-- most 10^18, so a balance plus a posting never overflows a bigint.
ALTER TABLE assets ADD COLUMN max_minor bigint NOT NULL DEFAULT 1000000000000000
    CONSTRAINT assets_max_minor_range CHECK (max_minor BETWEEN 1 AND 1000000000000000000);

-- ledger_post as in 0001, and also: a posting beyond its asset's bound, or a credit that
-- would take a cached balance beyond it, is refused (WZ005, DETAIL = the posting's
-- 1-based position) before any arithmetic can overflow; an entry that reverses a
-- reversal is refused (WZ006).
CREATE OR REPLACE FUNCTION ledger_post(
    p_tenant uuid, p_mode text, p_kind text, p_ref_type text, p_ref_id text,
    p_metadata jsonb, p_reverses bigint, p_hash bytea, p_at timestamptz,
    p_owner_types text[], p_owner_keys text[], p_rails text[], p_assets text[],
    p_tracked boolean[], p_amounts bigint[]
) RETURNS TABLE (entry_id bigint, ord integer, account_id bigint, balance_after bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_n integer := coalesce(cardinality(p_amounts), 0);
    v_bad boolean;
    v_twice boolean;
    v_ids bigint[];      -- account per posting, in input order
    v_locked bigint[];   -- the tracked accounts, locked
    v_balances bigint[]; -- their balances, as v_locked
    v_after bigint[];    -- balance after per posting, NULL when untracked
    v_at integer;
    v_max bigint[];      -- the bound of each posting's asset (assets.max_minor)
BEGIN
    IF v_n < 2 OR coalesce(cardinality(p_owner_types), 0) <> v_n
       OR coalesce(cardinality(p_owner_keys), 0) <> v_n OR coalesce(cardinality(p_rails), 0) <> v_n
       OR coalesce(cardinality(p_assets), 0) <> v_n OR coalesce(cardinality(p_tracked), 0) <> v_n THEN
        RAISE EXCEPTION 'postings must be two or more, each with an account and an amount'
            USING ERRCODE = 'WZ002';
    END IF;
    SELECT bool_or(w.amount IS NULL OR w.amount = 0 OR w.tracked IS NULL OR w.owner_type IS NULL
                   OR w.owner_key IS NULL OR w.rail IS NULL OR w.asset IS NULL)
           OR EXISTS (SELECT 1 FROM unnest(p_assets, p_amounts) AS b (asset, amount)
                      GROUP BY b.asset HAVING sum(b.amount) <> 0),
           count(DISTINCT (w.owner_type, w.owner_key, w.rail, w.asset)) <> v_n,
           array_agg(m.max_minor ORDER BY w.ord)
      INTO v_bad, v_twice, v_max
      FROM unnest(p_owner_types, p_owner_keys, p_rails, p_assets, p_tracked, p_amounts)
           WITH ORDINALITY AS w (owner_type, owner_key, rail, asset, tracked, amount, ord)
      LEFT JOIN assets m ON m.code = w.asset;
    IF v_bad THEN
        RAISE EXCEPTION 'postings must be two or more, non-zero, and balance per asset'
            USING ERRCODE = 'WZ002';
    END IF;
    IF v_twice THEN
        RAISE EXCEPTION 'postings name one account twice' USING ERRCODE = 'WZ002';
    END IF;
    FOR i IN 1 .. v_n LOOP
        IF p_amounts[i] > v_max[i] OR p_amounts[i] < -v_max[i] THEN
            RAISE EXCEPTION 'posting % moves more than the maximum of %', i, p_assets[i]
                USING ERRCODE = 'WZ005', DETAIL = i::text;
        END IF;
    END LOOP;
    IF p_reverses IS NOT NULL AND EXISTS (
        SELECT 1 FROM ledger_entries r WHERE r.tenant_id = p_tenant AND r.id = p_reverses
           AND r.reverses_entry_id IS NOT NULL) THEN
        RAISE EXCEPTION 'entry % is a reversal, which cannot be reversed', p_reverses
            USING ERRCODE = 'WZ006';
    END IF;

    SELECT array_agg((SELECT a.id FROM ledger_accounts a
                       WHERE a.tenant_id = p_tenant AND a.mode = p_mode
                         AND a.owner_type = w.owner_type AND a.owner_key = w.owner_key
                         AND a.rail = w.rail AND a.asset = w.asset) ORDER BY w.ord)
      INTO v_ids
      FROM unnest(p_owner_types, p_owner_keys, p_rails, p_assets) WITH ORDINALITY
           AS w (owner_type, owner_key, rail, asset, ord);
    IF array_position(v_ids, NULL) IS NOT NULL THEN
        -- first use: create the missing accounts (in one order, so that racing creators
        -- wait on each other rather than deadlock), then look them all up again
        INSERT INTO ledger_accounts (tenant_id, mode, owner_type, owner_key, rail, asset, balance)
        SELECT p_tenant, p_mode, w.owner_type, w.owner_key, w.rail, w.asset,
               CASE WHEN w.tracked THEN 0 END
          FROM unnest(p_owner_types, p_owner_keys, p_rails, p_assets, p_tracked)
               AS w (owner_type, owner_key, rail, asset, tracked)
         ORDER BY w.owner_type, w.owner_key, w.rail, w.asset
        ON CONFLICT DO NOTHING;
        SELECT array_agg((SELECT a.id FROM ledger_accounts a
                           WHERE a.tenant_id = p_tenant AND a.mode = p_mode
                             AND a.owner_type = w.owner_type AND a.owner_key = w.owner_key
                             AND a.rail = w.rail AND a.asset = w.asset) ORDER BY w.ord)
          INTO v_ids
          FROM unnest(p_owner_types, p_owner_keys, p_rails, p_assets) WITH ORDINALITY
               AS w (owner_type, owner_key, rail, asset, ord);
        IF array_position(v_ids, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'a posting names an account that cannot be created'
                USING ERRCODE = 'WZ002';
        END IF;
    END IF;

    -- the tracked balances, locked in account order; FOR UPDATE returns each row as
    -- it is once locked (the latest committed version)
    SELECT array_agg(l.id), array_agg(l.balance) INTO v_locked, v_balances
      FROM (SELECT a.id, a.balance FROM ledger_accounts a
             WHERE a.tenant_id = p_tenant AND a.id = ANY (v_ids) AND a.balance IS NOT NULL
             ORDER BY a.id FOR UPDATE) AS l;

    v_after := array_fill(NULL::bigint, ARRAY[v_n]);
    FOR i IN 1 .. v_n LOOP
        v_at := array_position(v_locked, v_ids[i]);
        IF v_at IS NOT NULL THEN
            -- both terms are within the bound (at most 10^18), so neither test overflows
            IF p_amounts[i] > 0 AND v_balances[v_at] > v_max[i] - p_amounts[i] THEN
                RAISE EXCEPTION 'the balance of posting % would exceed the maximum of %', i,
                    p_assets[i] USING ERRCODE = 'WZ005', DETAIL = i::text;
            END IF;
            v_after[i] := v_balances[v_at] + p_amounts[i];
            IF v_after[i] < 0 THEN
                RAISE EXCEPTION 'insufficient balance' USING ERRCODE = 'WZ001', DETAIL = i::text;
            END IF;
        END IF;
    END LOOP;

    -- the entry, the balances (as computed above, on the rows locked above: a primary-key
    -- scan, no join) and the postings, in one statement
    RETURN QUERY
    WITH entry AS (
        INSERT INTO ledger_entries (tenant_id, mode, kind, ref_type, ref_id, metadata,
                                    reverses_entry_id, content_hash, created_at)
        VALUES (p_tenant, p_mode, p_kind, p_ref_type, p_ref_id, p_metadata, p_reverses, p_hash,
                p_at)
        RETURNING id
    ), moved AS (
        UPDATE ledger_accounts a SET balance = v_after[array_position(v_ids, a.id)]
         WHERE a.tenant_id = p_tenant AND a.id = ANY (v_locked)
    ), written AS (
        INSERT INTO ledger_postings (tenant_id, mode, entry_id, account_id, asset, amount,
                                     balance_after)
        SELECT p_tenant, p_mode, e.id, p.id, p.asset, p.amount, p.after
          FROM entry e, unnest(v_ids, p_assets, p_amounts, v_after) AS p (id, asset, amount, after)
    )
    SELECT e.id, p.ord::integer, p.id, p.after
      FROM entry e, unnest(v_ids, v_after) WITH ORDINALITY AS p (id, after, ord)
     ORDER BY p.ord;
END;
$$;

-- TRUNCATE skips row triggers: the append-only tables refuse it with a statement trigger.
CREATE FUNCTION forbid_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'WZ003';
END;
$$;
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_truncate();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_truncate();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_truncate();

-- A jackpot pool without a trigger is bounded by its currency's maximum: its stripes
-- share the headroom left below it (they were unbounded, NULL), so the fast path never
-- takes a pool past it.
WITH pools AS (
    SELECT j.tenant_id, j.mode, j.id, j.stripes,
           greatest(m.max_minor - j.round_seed - coalesce(sum(s.contributed), 0), 0) AS room
      FROM jackpots j JOIN assets m ON m.code = j.currency
      LEFT JOIN jackpot_stripes s ON s.tenant_id = j.tenant_id AND s.mode = j.mode
           AND s.jackpot_id = j.id AND s.round = j.round
     WHERE j.trigger_at IS NULL
     GROUP BY j.tenant_id, j.mode, j.id, j.stripes, m.max_minor
)
UPDATE jackpot_stripes t
   SET headroom = p.room / p.stripes + CASE WHEN t.stripe < p.room % p.stripes THEN 1 ELSE 0 END
  FROM pools p
 WHERE t.tenant_id = p.tenant_id AND t.mode = p.mode AND t.jackpot_id = p.id;

"""

# Also run by the tests on a database seeded with collisions.
USERNAMES = r"""
-- Usernames are unique within a brand whatever their case; the form first sent is kept
-- for display. Existing collisions are not resolved here (which player keeps the name is
-- the operator's call): they are listed by the view player_username_collisions and in a
-- WARNING, and the unique index is created only when there are none; until then an
-- ordinary index serves the case-insensitive look-ups (docs/operations.md).
CREATE VIEW player_username_collisions AS
SELECT tenant_id, mode, brand_id, lower(username) AS username_key,
       array_agg(username ORDER BY created_at, id) AS usernames,
       array_agg(id ORDER BY created_at, id) AS player_ids
  FROM players GROUP BY tenant_id, mode, brand_id, lower(username) HAVING count(*) > 1;

DO $$
DECLARE
    v_collision record;
    v_count integer := 0;
BEGIN
    FOR v_collision IN SELECT * FROM player_username_collisions ORDER BY tenant_id, mode LOOP
        v_count := v_count + 1;
        IF v_count <= 100 THEN
            RAISE WARNING 'username collision in tenant % (%) brand %: % (players %)',
                v_collision.tenant_id, v_collision.mode, v_collision.brand_id,
                v_collision.usernames, v_collision.player_ids;
        END IF;
    END LOOP;
    IF v_count = 0 THEN
        CREATE UNIQUE INDEX players_username_ci
            ON players (tenant_id, mode, brand_id, lower(username));
    ELSE
        RAISE WARNING '% usernames collide; players_username_ci stays non-unique until they are resolved (SELECT * FROM player_username_collisions)',
            v_count;
        CREATE INDEX players_username_ci ON players (tenant_id, mode, brand_id, lower(username));
    END IF;
END;
$$;
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA) + split_sql(USERNAMES):
        op.execute(statement)
    collisions = op.get_bind().execute(
        sa.text("SELECT count(*) FROM player_username_collisions")).scalar()
    if collisions:
        logging.getLogger("alembic.runtime.migration").warning(
            "%s usernames differ only in case within a brand: the case-insensitive index is "
            "not unique until they are resolved (SELECT * FROM player_username_collisions; "
            "docs/operations.md)", collisions)


def downgrade() -> None:
    raise NotImplementedError("not reversible")
