"""Foundation: tenancy and keys, players, the ledger, idempotency, outbox, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

from wowsino.kernel.db import split_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Every business table carries (tenant_id, mode) and every primary key and unique
# index starts with tenant_id, so the schema can be distributed by tenant later.
SCHEMA = r"""
CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    service_mode text NOT NULL CHECK (service_mode IN ('plug_in', 'white_label')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    rate_limit_burst integer CHECK (rate_limit_burst > 0),
    rate_limit_per_second integer CHECK (rate_limit_per_second > 0),
    created_at timestamptz NOT NULL
);

CREATE TABLE brands (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    slug text NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, slug)
);

-- Looked up by hash before the tenant is known: a platform (reference) table.
CREATE TABLE api_keys (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    key_hash bytea NOT NULL UNIQUE,
    key_hint text NOT NULL,
    scopes text[] NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id)
);

CREATE TABLE players (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id uuid NOT NULL,
    brand_id uuid NOT NULL,
    username text NOT NULL,
    email text NOT NULL,
    external_ref text,
    country_code text,
    date_of_birth date,
    currency text NOT NULL,
    tags text[] NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'active',
    kyc_status text NOT NULL DEFAULT 'none',
    kyc_level integer NOT NULL DEFAULT 0,
    risk_band text NOT NULL DEFAULT 'low',
    is_pep boolean NOT NULL DEFAULT false,
    is_sanctioned boolean NOT NULL DEFAULT false,
    rg jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mode, brand_id, username),
    FOREIGN KEY (tenant_id, brand_id) REFERENCES brands (tenant_id, id)
);
CREATE INDEX players_listing ON players (tenant_id, mode, brand_id, created_at DESC, id DESC);
CREATE INDEX players_tags ON players USING gin (tags);
CREATE INDEX players_rg_pending ON players (tenant_id, mode) WHERE rg ? 'pending';

CREATE TABLE player_notes (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    player_id uuid NOT NULL,
    kind text NOT NULL,
    body text NOT NULL,
    actor text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, player_id) REFERENCES players (tenant_id, id)
);
CREATE INDEX player_notes_by_player ON player_notes (tenant_id, mode, player_id, id DESC);

-- The asset registry: scale = decimal places of the minor unit.
CREATE TABLE assets (
    code text PRIMARY KEY,
    scale smallint NOT NULL CHECK (scale BETWEEN 0 AND 18),
    kind text NOT NULL CHECK (kind IN ('fiat', 'crypto', 'points'))
);
INSERT INTO assets (code, scale, kind) VALUES
    ('USD', 2, 'fiat'), ('EUR', 2, 'fiat'), ('GBP', 2, 'fiat'), ('CAD', 2, 'fiat'),
    ('AUD', 2, 'fiat'), ('NZD', 2, 'fiat'), ('SEK', 2, 'fiat'), ('NOK', 2, 'fiat'),
    ('BRL', 2, 'fiat'), ('JPY', 0, 'fiat'),
    ('BTC', 8, 'crypto'), ('ETH', 8, 'crypto'), ('USDC', 6, 'crypto'), ('USDT', 6, 'crypto'),
    ('WINZ', 0, 'points'), ('XP', 0, 'points');

-- balance is the cached balance of a tracked account (players): never negative.
-- Untracked accounts (mints, house, settlement) keep NULL and are summed on read,
-- so they never become a hot row.
CREATE TABLE ledger_accounts (
    tenant_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('live', 'test')),
    id bigint GENERATED ALWAYS AS IDENTITY,
    owner_type text NOT NULL CHECK (owner_type IN ('player', 'system')),
    owner_key text NOT NULL,
    rail text NOT NULL CHECK (rail IN ('real', 'bonus', 'winz', 'xp')),
    asset text NOT NULL REFERENCES assets (code),
    balance bigint CONSTRAINT ledger_accounts_balance_nonneg CHECK (balance >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mode, owner_type, owner_key, rail, asset)
);

CREATE TABLE ledger_entries (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL,
    ref_type text,
    ref_id text,
    metadata jsonb NOT NULL DEFAULT '{}',
    reverses_entry_id bigint,
    content_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    chain_seq bigint,
    chain_hash bytea,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mode, chain_seq)
);
CREATE INDEX ledger_entries_unsealed ON ledger_entries (tenant_id, mode, id) WHERE chain_seq IS NULL;
CREATE UNIQUE INDEX ledger_entries_one_reversal ON ledger_entries (tenant_id, reverses_entry_id)
    WHERE reverses_entry_id IS NOT NULL;
CREATE INDEX ledger_entries_ref ON ledger_entries (tenant_id, mode, ref_type, ref_id);

CREATE TABLE ledger_postings (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    entry_id bigint NOT NULL,
    account_id bigint NOT NULL,
    asset text NOT NULL,
    amount bigint NOT NULL CHECK (amount <> 0),
    balance_after bigint,
    PRIMARY KEY (tenant_id, entry_id, account_id)
);
CREATE INDEX ledger_postings_by_account ON ledger_postings (tenant_id, account_id, entry_id DESC);

CREATE TABLE chain_heads (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    chain text NOT NULL,
    last_seq bigint NOT NULL,
    last_hash bytea NOT NULL,
    PRIMARY KEY (tenant_id, mode, chain)
);

-- Posts one balanced entry in one round trip: resolves (creating on first use)
-- the accounts, checks the postings balance per asset, locks the tracked
-- balances in account order (deadlock-free), refuses any negative result,
-- updates them, and appends the entry and its postings. Returns one row per
-- posting, in input order, with the balance after (NULL when untracked).
--
-- Four statements on the common path (checks, account lookup, balance lock,
-- then entry, balances and postings together), each with a plan that does not
-- depend on the arguments: one index probe per posting, primary-key scans for
-- the rest. The function therefore keeps generic plans: left to choose, the
-- plan cache finds a custom plan cheaper for statements over unnest() (it knows
-- the arrays' length) and would re-plan them on every call.
CREATE FUNCTION ledger_post(
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
           count(DISTINCT (w.owner_type, w.owner_key, w.rail, w.asset)) <> v_n
      INTO v_bad, v_twice
      FROM unnest(p_owner_types, p_owner_keys, p_rails, p_assets, p_tracked, p_amounts)
           AS w (owner_type, owner_key, rail, asset, tracked, amount);
    IF v_bad THEN
        RAISE EXCEPTION 'postings must be two or more, non-zero, and balance per asset'
            USING ERRCODE = 'WZ002';
    END IF;
    IF v_twice THEN
        RAISE EXCEPTION 'postings name one account twice' USING ERRCODE = 'WZ002';
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

CREATE TABLE idempotency_keys (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    endpoint text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status_code integer,
    response text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, mode, endpoint, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

CREATE TABLE outbox_events (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id uuid NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    type text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_events_by_type ON outbox_events (tenant_id, mode, type, seq DESC);

CREATE TABLE audit_log (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    actor_type text NOT NULL CHECK (actor_type IN ('api_key', 'operator', 'system', 'admin')),
    actor_id text NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    before jsonb,
    after jsonb,
    request_id text,
    created_at timestamptz NOT NULL,
    content_hash bytea NOT NULL,
    chain_seq bigint,
    chain_hash bytea,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mode, chain_seq)
);
CREATE INDEX audit_log_listing ON audit_log (tenant_id, mode, id DESC);
CREATE INDEX audit_log_target ON audit_log (tenant_id, mode, target_type, target_id, id DESC);
CREATE INDEX audit_log_unsealed ON audit_log (tenant_id, mode, id) WHERE chain_seq IS NULL;

-- Append-only: rows may only gain their chain link once; nothing is deleted.
CREATE FUNCTION forbid_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'WZ003';
    END IF;
    -- nested: OLD.chain_seq only exists on the chained tables (ledger_postings has none)
    IF TG_TABLE_NAME IN ('ledger_entries', 'audit_log') THEN
        IF OLD.chain_seq IS NULL
           AND (to_jsonb(NEW) - 'chain_seq' - 'chain_hash') = (to_jsonb(OLD) - 'chain_seq' - 'chain_hash') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'WZ003';
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();

CREATE TABLE usage_counters (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    day date NOT NULL,
    api_calls bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, mode, day)
);

CREATE TABLE player_activity (
    tenant_id uuid NOT NULL,
    mode text NOT NULL,
    month date NOT NULL,
    player_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, mode, month, player_id)
);
"""


def upgrade() -> None:
    for statement in split_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the foundation is not reversible")
