"""Automatic jackpot contributions: a consumer of the wager spine.

Every active pool with a ``contribution_pct`` takes that percentage of each wager in
its currency (rounded down to a minor unit). A batch costs, per pool: one claim on a
stripe for the batch's total, one insert of every contribution, one ledger entry.
When the total does not fit in one stripe's headroom (the pool is near its trigger),
the pool falls back to the exact path, one contribution at a time, so a must-drop or
mystery pool still drops exactly at its trigger, to the contribution that reached it.

A rolled-back wager keeps its contributions: the pool has already shown (and may
already have paid) them, and taking money back out of a pool that dropped would make
the drop unfair to the winner. ``reverse`` says so in its effects.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import profiles
from wowsino.engines.jackpots import flows, service, stripes
from wowsino.events.wagers import Context, Effects, Wager, read
from wowsino.kernel import ledger, wire
from wowsino.kernel.errors import DomainError
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import Realm

# The brands whose jurisdiction profile refuses jackpots (compliance: ``jackpots_allowed``):
# their players' wagers feed no pool.
_REFUSING = (
    "(SELECT coalesce(json_agg(jp.brand_id), '[]') FROM jurisdiction_profiles jp "
    "WHERE jp.tenant_id = :tenant_id AND jp.mode = :mode AND NOT coalesce("
    "(jp.overrides ->> 'jackpots_allowed')::boolean, jp.profile = ANY (ARRAY[{allowing}])))"
).format(allowing=", ".join(f"'{name}'" for name in profiles.allowing("jackpots_allowed")))
# The pools taking automatic contributions in the batch's currencies, as JSON objects,
# each with the brands that take no part.
READS = (
    "(SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'currency', currency, "
    "'contribution_pct', contribution_pct, 'stripes', stripes, 'round', round, "
    "'round_seed', round_seed, 'trigger_at', trigger_at, 'refusing', " + _REFUSING + ") "
    "ORDER BY id), '[]')::text "
    "FROM jackpots WHERE tenant_id = :tenant_id AND mode = :mode AND status = 'active' "
    "AND contribution_pct IS NOT NULL AND currency = ANY (CAST(:currencies AS text[])))"
)

_INSERT = text(
    "INSERT INTO jackpot_contributions (tenant_id, mode, id, jackpot_id, round, player_id, "
    "brand_id, source_wager_id, requested, amount, created_at) "
    "SELECT :tenant_id, :mode, c.id, :jackpot_id, :round, c.player_id, c.brand_id, c.wager, "
    "c.amount, c.amount, :at FROM unnest(CAST(:ids AS uuid[]), CAST(:players AS uuid[]), "
    "CAST(:brands AS uuid[]), CAST(:wagers AS text[]), CAST(:amounts AS bigint[])) "
    "AS c (id, player_id, brand_id, wager, amount) ON CONFLICT DO NOTHING "
    "RETURNING source_wager_id, amount"
)
# The contributions and the claim of their total on a stripe, in one statement (the claim
# neither reads nor needs the rows; it runs only when some were new).
_INSERT_AND_CLAIM = text(
    f"WITH fresh AS ({_INSERT.text}) SELECT "
    "(SELECT coalesce(array_agg(source_wager_id), '{}') FROM fresh) AS inserted, "
    "CASE WHEN EXISTS (SELECT FROM fresh) THEN "
    + stripes.CLAIM_CALL.format(amount="(SELECT sum(amount) FROM fresh)::bigint")
    + " END AS contributed"
)


def share(amount: int, pct: Decimal) -> int:
    """``pct`` percent of ``amount`` minor units, rounded down (exact decimal arithmetic)."""
    return int(Decimal(amount) * pct / 100)


async def apply(conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context) -> Effects:
    """Contribute each wager to every pool with an automatic rate in its currency."""
    if not wagers:
        return {}
    pools = await read(conn, realm, ctx, "jackpots", READS, wagers)
    effects: Effects = {}
    for pool in pools:
        pool = {**pool, "id": UUID(pool["id"])}
        refusing = {UUID(b) for b in pool.get("refusing", [])}
        taken = [(w, share(w.amount, Decimal(pool["contribution_pct"]))) for w in wagers
                 if w.currency == pool["currency"] and w.brand_id not in refusing]
        # one order for every transaction: concurrent batches cannot deadlock on the key
        taken = sorted(((w, amount) for w, amount in taken if amount > 0),
                       key=lambda t: t[0].source_wager_id)
        if not taken:
            continue
        done = await _contribute_batch(conn, realm, ctx, pool, taken)
        if done is None:
            done = await _contribute_one_by_one(conn, realm, ctx, pool, taken)
        for wager_id, effect in done.items():
            effects.setdefault(wager_id, []).append(effect)
    return effects


async def _contribute_batch(
    conn: AsyncConnection, realm: Realm, ctx: Context, pool: dict[str, Any],
    taken: list[tuple[Wager, int]],
) -> dict[str, dict[str, Any]] | None:
    """The fast path: record the batch's contributions and add their total through one
    stripe; None (nothing kept) when the total does not fit and the exact path decides."""
    ids = [new_id() for _ in taken]
    row = (await conn.execute(_INSERT_AND_CLAIM, {
        **realm.params, "jackpot_id": pool["id"], "round": pool["round"], "at": ctx.at,
        "ids": ids, "players": [w.player_id for w, _ in taken],
        "brands": [w.brand_id for w, _ in taken],
        "wagers": [w.source_wager_id for w, _ in taken], "amounts": [a for _, a in taken],
        "own": ids[0].int % pool["stripes"], "stripes": pool["stripes"]})).one()
    inserted = set(row.inserted)
    fresh = [(w, a) for w, a in taken if w.source_wager_id in inserted]
    total = sum(a for _, a in fresh)
    if not fresh:
        return {}
    if row.contributed is None:
        await conn.execute(
            text("DELETE FROM jackpot_contributions WHERE tenant_id = :tenant_id "
                 "AND id = ANY (CAST(:ids AS uuid[]))"), {**realm.params, "ids": ids})
        return None
    currency = pool["currency"]
    await ledger.post_entry(
        conn, realm=realm, kind="jackpot.contribution", at=ctx.at,
        ref_type="wager_batch", ref_id=str(ids[0]),
        metadata={"jackpot_id": str(pool["id"]), "contributions": len(fresh)},
        postings=[ledger.Posting(flows.pool_account(pool["id"], currency), total),
                  ledger.Posting(flows.funding_account(ctx.service_mode, currency), -total)])
    currency_asset = ASSETS[currency]
    return {w.source_wager_id: {"jackpot_id": str(pool["id"]), "name": pool["name"],
                                "contribution": from_minor(a, currency_asset), "dropped": None}
            for w, a in fresh}


async def _contribute_one_by_one(
    conn: AsyncConnection, realm: Realm, ctx: Context, pool: dict[str, Any],
    taken: list[tuple[Wager, int]],
) -> dict[str, dict[str, Any]]:
    """The exact path of the jackpot engine, one contribution at a time."""
    currency = ASSETS[pool["currency"]]
    out = {}
    for wager, amount in taken:
        try:  # one wager's refusal (its currency, a full pool) is its own effect
            async with wire.savepoint(conn):
                status, body = await service.contribute(
                    conn, realm=realm, brand_id=wager.brand_id, service_mode=ctx.service_mode,
                    ref=str(pool["id"]), user_ref=str(wager.player_id),
                    source_wager_id=wager.source_wager_id, amount=from_minor(amount, currency),
                    at=ctx.at)
        except DomainError as error:
            out[wager.source_wager_id] = {"jackpot_id": str(pool["id"]), "name": pool["name"],
                                          "contribution": None, **error.body()}
            continue
        if status == 201:
            out[wager.source_wager_id] = {
                "jackpot_id": str(pool["id"]), "name": pool["name"],
                "contribution": body["amount"], "dropped": body["dropped"]}
    return out


async def reverse(
    conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context
) -> Effects:
    """Contributions stay in the pool (see the module docstring)."""
    kept = await conn.execute(
        text("SELECT source_wager_id, jackpot_id FROM jackpot_contributions "
             "WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND source_wager_id = ANY (CAST(:wagers AS text[]))"),
        {**realm.params, "wagers": [w.source_wager_id for w in wagers]})
    effects: Effects = {}
    for wager_id, jackpot_id in kept:
        effects.setdefault(wager_id, []).append(
            {"jackpot_id": str(jackpot_id), "kept": True,
             "reason": "jackpot contributions are not reversed"})
    return effects
