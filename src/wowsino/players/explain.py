"""Explain a balance: the ledger entries that made one player balance, newest first, each
with its signed amount, what caused it and the balance right after it, and the entries
that look paid twice.

The running balance is the one the ledger wrote with each posting (``balance_after``):
``ledger_post`` computes it on the account's locked row and draws the entry's id only
after taking that lock, so on one account entry ids follow the order of the balances and
the newest entry's ``balance_after`` is the cached balance. The page checks that chain
(``consistent``): each entry's balance before (``balance_after − amount``) is the next
older entry's balance after — one more row is read for the page's oldest entry — and the
newest entry of the first page ends at the cached balance. A page costs one index range
scan of the account's postings, whatever its depth; the first page (no cursor) also
reads ``duplicates``, one aggregate over the balance's entries (null on later pages).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.fairness import links
from wowsino.kernel.jsonio import loads
from wowsino.kernel.money import Asset, Rail, from_minor
from wowsino.kernel.pagination import BIGINT, Keyset
from wowsino.kernel.realm import Realm

ENTRIES = Keyset(("entry_id",), (BIGINT,))

def _weighted_arm(table: str, entity: str, ref_type: str) -> str:
    """The arm reading a prize-table draw (lootbox open, mini-game play) with its proof."""
    return f"""
      SELECT jsonb_build_object(
                 'game', 'weighted', 'entity_id', o.{entity}, 'index', o.segment_index,
                 'segment_label', o.segment_label, 'server_seed', o.server_seed,
                 'server_seed_hash', o.server_seed_hash, 'client_seed', o.client_seed,
                 'prize_table_hash', o.prize_table_hash, 'prize_table', v.prize_table) AS detail
        FROM {table} o
        JOIN prize_table_versions v ON v.tenant_id = o.tenant_id AND v.mode = o.mode
             AND v.hash = o.prize_table_hash
       WHERE e.ref_type = '{ref_type}' AND o.tenant_id = e.tenant_id AND o.mode = e.mode
         AND o.id = CAST(CASE WHEN e.ref_type = '{ref_type}' THEN e.ref_id END AS uuid)"""


# What caused an entry, by its reference: the draw results carry their published proof.
# Each arm reads one row by primary key, only for entries of its own reference type.
_PAGE = """
WITH account AS (
    SELECT a.id, a.balance FROM ledger_accounts a
     WHERE a.tenant_id = :tenant_id AND a.mode = :mode AND a.owner_type = 'player'
       AND a.owner_key = :key AND a.rail = :rail AND a.asset = :asset
), page AS (
    SELECT p.entry_id, p.amount, p.balance_after FROM account, ledger_postings p
     WHERE p.tenant_id = :tenant_id AND p.account_id = account.id {after}
     ORDER BY p.entry_id DESC LIMIT :limit
)
SELECT account.balance AS account_balance, page.entry_id, page.amount, page.balance_after,
       e.kind, e.ref_type, e.ref_id, e.metadata, e.reverses_entry_id, e.created_at, x.detail
  FROM account
  LEFT JOIN page ON true
  LEFT JOIN ledger_entries e ON e.tenant_id = :tenant_id AND e.id = page.entry_id
  LEFT JOIN LATERAL (
{weighted}
      UNION ALL
      SELECT jsonb_build_object(
                 'game', 'raffle', 'entity_id', r.raffle_id, 'index', r.winning_ticket_idx,
                 'tickets', r.total_tickets, 'skipped', r.skipped_ticket_idxs,
                 'server_seed', r.server_seed, 'server_seed_hash', r.server_seed_hash,
                 'client_seed', r.client_seed)
        FROM raffle_draws r
       WHERE e.ref_type = 'raffle_draw' AND r.tenant_id = e.tenant_id AND r.mode = e.mode
         AND r.id = CAST(CASE WHEN e.ref_type = 'raffle_draw' THEN e.ref_id END AS uuid)
      UNION ALL
      SELECT jsonb_build_object('game', 'mystery', 'entity_id', d.jackpot_id,
                                'mystery', d.mystery)
        FROM jackpot_drops d
       WHERE e.ref_type = 'jackpot_drop' AND d.tenant_id = e.tenant_id AND d.mode = e.mode
         AND d.id = CAST(CASE WHEN e.ref_type = 'jackpot_drop' THEN e.ref_id END AS uuid)
         AND d.mystery IS NOT NULL
      UNION ALL
      SELECT jsonb_build_object('template_id', b.template_id, 'template_name', t.name,
                                'bonus_type', b.type)
        FROM bonuses b
        LEFT JOIN bonus_templates t ON t.tenant_id = b.tenant_id AND t.id = b.template_id
       WHERE e.ref_type = 'bonus' AND b.tenant_id = e.tenant_id AND b.mode = e.mode
         AND b.id = CAST(CASE WHEN e.ref_type = 'bonus' THEN e.ref_id END AS uuid)
  ) x ON true
 ORDER BY page.entry_id DESC
""".replace("{weighted}", "\n      UNION ALL".join(
    _weighted_arm(*arm) for arm in (("lootbox_opens", "lootbox_id", "lootbox_open"),
                                    ("mini_game_plays", "mini_game_id", "mini_game_play"))))

# Entries of one kind caused by one source, more than once: a reward paid twice. A
# reference naming only the player (adjustments) is no source: each adjustment is its own.
# One aggregate over the balance's postings (no self-join: its plan stays linear even on
# a realm the planner has no statistics for yet), grouping bytes rather than collated text.
_DUPLICATES = text("""
SELECT min(e.kind) AS kind, min(e.ref_type) AS ref_type, min(e.ref_id) AS ref_id,
       array_agg(e.id) AS entry_ids, sum(p.amount) AS total
  FROM ledger_accounts a
  JOIN ledger_postings p ON p.tenant_id = a.tenant_id AND p.account_id = a.id
  JOIN ledger_entries e ON e.tenant_id = p.tenant_id AND e.id = p.entry_id
 WHERE a.tenant_id = :tenant_id AND a.mode = :mode AND a.owner_type = 'player'
   AND a.owner_key = :key AND a.rail = :rail AND a.asset = :asset
   AND e.ref_type IS NOT NULL AND e.ref_type <> 'player'
 GROUP BY e.kind COLLATE "C", e.ref_type COLLATE "C", e.ref_id COLLATE "C"
HAVING count(*) > 1
 ORDER BY max(e.id) DESC
 LIMIT :groups
""")
MAX_GROUPS = 100

# The reference types the API names, and the field the source's id goes in.
_ID_FIELD = {
    "wager": "wager_id", "wager_batch": "batch_id", "bonus": "bonus_id",
    "deposit": "deposit_id", "withdrawal": "withdrawal_id",
    "lootbox_open": "open_id", "mini_game_play": "play_id", "raffle_draw": "draw_id",
    "raffle_entry": "entry_id", "jackpot": "jackpot_id",
    "jackpot_contribution": "contribution_id", "jackpot_drop": "drop_id",
    "campaign_run": "run_id", "ledger_entry": "reversed_entry_id",
}
_ENTITY_FIELD = {"lootbox_open": "lootbox_id", "mini_game_play": "mini_game_id",
                 "raffle_draw": "raffle_id", "jackpot_drop": "jackpot_id"}


async def explain(
    conn: AsyncConnection, realm: Realm, player_id: UUID, rail: Rail, unit: Asset, *,
    limit: int, cursor: str | None,
) -> dict[str, Any]:
    """One page of the balance's entries, newest first, and its duplicate sources."""
    after = ENTRIES.decode(cursor)
    params: dict[str, Any] = {**realm.params, "key": str(player_id), "rail": rail.value,
                              "asset": unit.code, "limit": limit + 1}
    where_after = ""
    if after:
        where_after = "AND " + ENTRIES.before(after, params, alias="p")
    rows = (await conn.execute(text(_PAGE.format(after=where_after)), params)).all()
    cached = int(rows[0].account_balance) if rows and rows[0].account_balance is not None else 0
    entries = [r for r in rows if r.entry_id is not None]
    consistent = _consistent(entries, cached if after is None else None,
                             last_page=len(entries) <= limit)
    page = ENTRIES.page([_entry(r, unit) for r in entries], limit)
    duplicates: list[dict[str, Any]] | None = None  # the first page carries them
    if after is None:
        duplicates = [] if not entries else [
            {"source": _source(d.kind, d.ref_type, d.ref_id, {}, None),
             "kind": d.kind, "entry_ids": sorted((int(i) for i in d.entry_ids), reverse=True),
             "total": from_minor(int(d.total), unit), "total_minor": int(d.total)}
            for d in await conn.execute(_DUPLICATES, {**params, "groups": MAX_GROUPS})]
    return {
        "balance": {"user_id": str(player_id), "rail": rail.value, "asset": unit.code,
                    "amount": from_minor(cached, unit), "amount_minor": cached},
        "data": page["data"], "next_cursor": page["next_cursor"],
        "consistent": consistent, "duplicates": duplicates,
    }


def _consistent(entries: list[Any], cached: int | None, *, last_page: bool) -> bool:
    """Whether the running balances chain: each entry's balance before is the next older
    one's balance after (zero before the very first entry), and the newest ends at the
    cached balance (first page only)."""
    if any(r.balance_after is None for r in entries):
        return False
    if cached is not None and (int(entries[0].balance_after) if entries else 0) != cached:
        return False
    befores = [int(r.balance_after) - int(r.amount) for r in entries]
    olders = [int(r.balance_after) for r in entries[1:]] + ([0] if last_page else [])
    return all(b == o for b, o in zip(befores, olders, strict=False))


def _entry(r: Any, unit: Asset) -> dict[str, Any]:
    metadata = loads(r.metadata) if isinstance(r.metadata, str) else (r.metadata or {})
    detail = loads(r.detail) if isinstance(r.detail, str) else r.detail
    after = None if r.balance_after is None else int(r.balance_after)
    amount = int(r.amount)
    return {
        "entry_id": int(r.entry_id), "posted_at": r.created_at, "kind": r.kind,
        "amount": from_minor(amount, unit), "amount_minor": amount,
        "balance_before": None if after is None else from_minor(after - amount, unit),
        "balance_after": None if after is None else from_minor(after, unit),
        "balance_after_minor": after,
        "source": _source(r.kind, r.ref_type, r.ref_id, metadata, detail),
        "reverses_entry_id": r.reverses_entry_id,
    }


def _source(kind: str, ref_type: str | None, ref_id: str | None, metadata: dict[str, Any],
            detail: dict[str, Any] | None) -> dict[str, Any]:
    """What caused an entry, as structured fields: ``type`` (the reference type, or the
    entry's kind where the reference names only the player) and the source's own ids."""
    if ref_type is None:
        return {"type": kind, "ref_type": None, "ref_id": None}
    if ref_type == "player":  # an adjustment or a VIP cashback: the player is the target
        source: dict[str, Any] = {"type": "adjustment" if kind == "adjustment" else kind,
                                  "ref_type": ref_type, "ref_id": ref_id}
        if kind == "adjustment":
            source.update(actor=metadata.get("actor"), reason=metadata.get("reason"))
        elif "period_start" in metadata:
            source["period_start"] = metadata["period_start"]
        return source
    source = {"type": ref_type, "ref_type": ref_type, "ref_id": ref_id}
    if ref_type in _ID_FIELD:
        source[_ID_FIELD[ref_type]] = ref_id
    if ref_type == "game_transaction" and ref_id and ":" in ref_id:
        adapter, _, transaction = ref_id.partition(":")
        source.update(adapter=adapter, transaction_id=transaction)
    for name in ("lootbox_id", "mini_game_id", "raffle_id", "segment_label", "wagers"):
        if name in metadata:
            source[name] = metadata[name]
    if detail:
        source.update(_detail(ref_type, detail))
    return source


def _detail(ref_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    if "template_id" in detail:  # a bonus
        return {"template_id": detail["template_id"], "template_name": detail["template_name"],
                "bonus_type": detail["bonus_type"]}
    if detail["game"] == "mystery":  # a mystery jackpot's drop point, revealed
        reveal = detail["mystery"]
        reveal = loads(reveal) if isinstance(reveal, str) else reveal
        return {
            "jackpot_id": detail["entity_id"], "server_seed_hash": reveal["server_seed_hash"],
            "verify_url": links.mystery_url(
                server_seed=reveal["server_seed"], server_seed_hash=reveal["server_seed_hash"],
                client_seed=reveal["client_seed"], low=int(reveal["seed"]),
                high=int(reveal["must_drop_at"]), point=int(reveal["drop_point"])),
        }
    shown: dict[str, Any] = {
        _ENTITY_FIELD[ref_type]: detail["entity_id"],
        "server_seed_hash": detail["server_seed_hash"],
    }
    if detail["game"] == "raffle":
        shown["winning_ticket_idx"] = int(detail["index"])
        shown["verify_url"] = links.raffle_url(
            server_seed=detail["server_seed"], server_seed_hash=detail["server_seed_hash"],
            client_seed=detail["client_seed"], tickets=int(detail["tickets"]),
            index=int(detail["index"]), skipped=[int(i) for i in detail["skipped"] or []])
    else:
        shown["segment_label"] = detail["segment_label"]
        shown["segment_index"] = int(detail["index"])
        shown["prize_table_hash"] = detail["prize_table_hash"]
        shown["verify_url"] = links.weighted_url(
            server_seed=detail["server_seed"], server_seed_hash=detail["server_seed_hash"],
            client_seed=detail["client_seed"], table=detail["prize_table"],
            index=int(detail["index"]), prize_table_hash=detail["prize_table_hash"])
    return shown


_PROOFS = text("""
SELECT 'lootbox_open' AS ref_type, CAST(o.id AS text) AS ref_id, jsonb_build_object(
           'game', 'weighted', 'entity_id', o.lootbox_id, 'index', o.segment_index,
           'segment_label', o.segment_label, 'server_seed', o.server_seed,
           'server_seed_hash', o.server_seed_hash, 'client_seed', o.client_seed,
           'prize_table_hash', o.prize_table_hash, 'prize_table', v.prize_table) AS detail
  FROM lootbox_opens o
  JOIN prize_table_versions v ON v.tenant_id = o.tenant_id AND v.mode = o.mode
       AND v.hash = o.prize_table_hash
 WHERE o.tenant_id = :tenant_id AND o.mode = :mode AND o.id = ANY (CAST(:opens AS uuid[]))
UNION ALL
SELECT 'mini_game_play', CAST(o.id AS text), jsonb_build_object(
           'game', 'weighted', 'entity_id', o.mini_game_id, 'index', o.segment_index,
           'segment_label', o.segment_label, 'server_seed', o.server_seed,
           'server_seed_hash', o.server_seed_hash, 'client_seed', o.client_seed,
           'prize_table_hash', o.prize_table_hash, 'prize_table', v.prize_table)
  FROM mini_game_plays o
  JOIN prize_table_versions v ON v.tenant_id = o.tenant_id AND v.mode = o.mode
       AND v.hash = o.prize_table_hash
 WHERE o.tenant_id = :tenant_id AND o.mode = :mode AND o.id = ANY (CAST(:plays AS uuid[]))
UNION ALL
SELECT 'raffle_draw', CAST(r.id AS text), jsonb_build_object(
           'game', 'raffle', 'entity_id', r.raffle_id, 'index', r.winning_ticket_idx,
           'tickets', r.total_tickets, 'skipped', r.skipped_ticket_idxs,
           'server_seed', r.server_seed, 'server_seed_hash', r.server_seed_hash,
           'client_seed', r.client_seed)
  FROM raffle_draws r
 WHERE r.tenant_id = :tenant_id AND r.mode = :mode AND r.id = ANY (CAST(:draws AS uuid[]))
UNION ALL
SELECT 'jackpot_drop', CAST(d.id AS text), jsonb_build_object(
           'game', 'mystery', 'entity_id', d.jackpot_id, 'mystery', d.mystery)
  FROM jackpot_drops d
 WHERE d.tenant_id = :tenant_id AND d.mode = :mode AND d.id = ANY (CAST(:drops AS uuid[]))
   AND d.mystery IS NOT NULL
""")
_DRAW_REFS = {"lootbox_open": "opens", "mini_game_play": "plays", "raffle_draw": "draws",
              "jackpot_drop": "drops"}


async def verify_links(conn: AsyncConnection, realm: Realm,
                       refs: list[tuple[str | None, str | None]]) -> dict[tuple[str, str], str]:
    """The verifier link of every draw among ``refs`` (ledger references), in one query:
    ``{(ref_type, ref_id): verify_url}``."""
    wanted: dict[str, list[str]] = {name: [] for name in _DRAW_REFS.values()}
    for ref_type, ref_id in refs:
        if ref_type in _DRAW_REFS and ref_id:
            try:
                wanted[_DRAW_REFS[ref_type]].append(str(UUID(ref_id)))
            except ValueError:
                continue
    if not any(wanted.values()):
        return {}
    links_by_ref: dict[tuple[str, str], str] = {}
    for row in await conn.execute(_PROOFS, {**realm.params, **wanted}):
        detail = loads(row.detail) if isinstance(row.detail, str) else row.detail
        links_by_ref[(row.ref_type, row.ref_id)] = _detail(row.ref_type, detail)["verify_url"]
    return links_by_ref
