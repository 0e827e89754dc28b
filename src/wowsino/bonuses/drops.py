"""Drops: a prize-drop promotion, a consumer of the wager spine.

Each qualifying wager (the template's currency, a category its ``game_weights``
count) has a provably fair chance ``drop_rate`` to win a prize from a fixed pool
until the pool is exhausted. The draw of wager ``w`` is the platform's byte stream
with the promotion's server seed and ``client_seed = w``'s ``source_wager_id``:
``uniform_int(10^8) < drop_rate × 10^8`` wins, and the prize is then a weighted pick
over the prizes left (their remaining counts, in the template's order) from the same
stream. The seed's hash is published when the promotion is created and the seed
itself when the pool is exhausted, so anyone can recompute every draw.

Deciding a draw needs no lock (it depends only on the seed and the wager id); only a
win locks the pool's state to take its prize, so the promotion is never a hot row.
A prize is bonus money with the template's wagering, granted through the usual path
(the compliance gate included); a refused grant leaves the prize in the pool.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import repository
from wowsino.bonuses import terms as terms_
from wowsino.events.wagers import Context, Effects, Wager, read
from wowsino.kernel import fairness, wire
from wowsino.kernel.db import retry_on_conflict
from wowsino.kernel.errors import DomainError
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import SYSTEM, Realm

SCALE = 10**8  # drop_rate has at most 8 decimals


def wins(server_seed: str, wager_id: str, drop_rate: Decimal) -> fairness.ByteStream | None:
    """The stream of a winning draw (for the prize pick), or None: a pure function."""
    stream = fairness.ByteStream(server_seed, wager_id)
    threshold = int(drop_rate * SCALE)
    return stream if fairness.uniform_int(stream, SCALE) < threshold else None


async def create_state(conn: AsyncConnection, realm: Realm, template_id: UUID,
                       prizes: list[dict[str, Any]]) -> None:
    seed = fairness.new_server_seed()
    await conn.execute(
        text("INSERT INTO bonus_drops (tenant_id, mode, template_id, server_seed, "
             "server_seed_hash, remaining) VALUES (:tenant_id, :mode, :id, :seed, :hash, "
             ":remaining)"),
        {**realm.params, "id": template_id, "seed": seed, "hash": fairness.hash_seed(seed),
         "remaining": [int(p["count"]) for p in prizes]})


async def state(conn: AsyncConnection, realm: Realm, template_id: UUID) -> dict[str, Any] | None:
    """The public state: the seed hash, the prizes left, the seed once exhausted."""
    row = (await conn.execute(
        text("SELECT server_seed, server_seed_hash, remaining, exhausted_at, (SELECT count(*) "
             "FROM bonus_drop_wins w WHERE w.tenant_id = d.tenant_id AND w.mode = d.mode "
             "AND w.template_id = d.template_id) AS wins FROM bonus_drops d "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND template_id = :id"),
        {**realm.params, "id": template_id})).first()
    if row is None:
        return None
    return {"server_seed_hash": row.server_seed_hash, "remaining": list(row.remaining),
            "wins": int(row.wins), "exhausted_at": row.exhausted_at,
            "server_seed": row.server_seed if row.exhausted_at is not None else None}


# The running promotions in the batch's currencies: [[template_id, server_seed], ...]
READS = (
    "(SELECT coalesce(json_agg(json_build_array(d.template_id, d.server_seed) "
    "ORDER BY d.template_id), '[]')::text FROM bonus_drops d JOIN bonus_templates t "
    "ON t.tenant_id = d.tenant_id AND t.id = d.template_id WHERE d.tenant_id = :tenant_id "
    "AND d.mode = :mode AND d.exhausted_at IS NULL AND t.status = 'active' "
    "AND t.currency = ANY (CAST(:currencies AS text[])))"
)


async def apply(conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context) -> Effects:
    if not wagers:
        return {}
    promotions = await read(conn, realm, ctx, "drops", READS, wagers)
    effects: Effects = {}
    for template_ref, seed in promotions:
        template_id = UUID(template_ref)
        template = await repository.template(conn, realm, template_id=template_id)
        assert template is not None
        rate = Decimal(str(template["terms"]["drop_rate"]))
        winners = [(w, stream) for w in wagers
                   if w.currency == template["currency"]
                   and terms_.weight(template["terms"], w.game_category) > 0
                   and (stream := wins(seed, w.source_wager_id, rate)) is not None]
        if winners:
            for wager_id, effect in (await _award(conn, realm, ctx, template,
                                                  winners)).items():
                effects.setdefault(wager_id, []).append(effect)
    return effects


async def _award(conn: AsyncConnection, realm: Realm, ctx: Context, template: dict[str, Any],
                 winners: list[tuple[Wager, fairness.ByteStream]]) -> dict[str, dict[str, Any]]:
    """Take each winner's prize from the pool (locked) and grant it."""
    from wowsino.bonuses import service
    from wowsino.players import service as players

    remaining = list((await conn.execute(
        text("SELECT remaining FROM bonus_drops WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND template_id = :id FOR UPDATE"),
        {**realm.params, "id": template["id"]})).scalar_one())
    prizes = template["terms"]["prizes"]
    currency = ASSETS[template["currency"]]
    out: dict[str, dict[str, Any]] = {}
    for wager, stream in winners:
        if sum(remaining) == 0:
            break
        index = fairness.weighted_pick(stream, remaining)
        amount = int(prizes[index]["amount"])
        player = await players.get(conn, realm, wager.brand_id, str(wager.player_id))
        try:
            async with wire.savepoint(conn):
                status, body = await service.grant(
                    conn, realm=realm, service_mode=ctx.service_mode, player=player,
                    template=template, deposit_amount=None, amount=amount, reason=None,
                    opted_in_at=None, source="drops", source_ref=wager.source_wager_id,
                    actor=SYSTEM, at=ctx.at)
        except DomainError as error:
            status, body = error.status, error.body()
        if status != 201:
            out[wager.source_wager_id] = {"template_id": str(template["id"]), "won": True,
                                          "granted": False, **body}
            continue
        remaining[index] -= 1
        await _record(conn, realm, template["id"], wager, index, amount,
                      body["bonus"]["id"], ctx.at)
        out[wager.source_wager_id] = {
            "template_id": str(template["id"]), "won": True, "granted": True,
            "prize_index": index, "amount": from_minor(amount, currency),
            "bonus_id": body["bonus"]["id"]}
    await conn.execute(
        text("UPDATE bonus_drops SET remaining = :remaining, exhausted_at = CASE WHEN "
             ":left = 0 THEN CAST(:at AS timestamptz) END WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND template_id = :id"),
        {**realm.params, "id": template["id"], "remaining": remaining, "left": sum(remaining),
         "at": ctx.at})
    return out


# A wager's row here is written before the wager's own row, which the spine writes
# last: a violation is a concurrent first use of the wager (``events.repository``).
retry_on_conflict("bonus_drop_wins_pkey")


async def _record(conn: AsyncConnection, realm: Realm, template_id: UUID, wager: Wager,
                  index: int, amount: int, bonus_id: str, at: datetime) -> None:
    await conn.execute(
        text("INSERT INTO bonus_drop_wins (tenant_id, mode, template_id, source_wager_id, "
             "player_id, prize_index, amount, bonus_id, created_at) VALUES (:tenant_id, :mode, "
             ":template_id, :wager, :player_id, :index, :amount, CAST(:bonus_id AS uuid), :at)"),
        {**realm.params, "template_id": template_id, "wager": wager.source_wager_id,
         "player_id": wager.player_id, "index": index, "amount": amount,
         "bonus_id": bonus_id, "at": at})


async def reverse(conn: AsyncConnection, realm: Realm, wagers: list[Wager],
                  ctx: Context) -> Effects:
    """A prize already won stays won (its bonus follows its own life)."""
    return {}


async def wins_page(
    conn: AsyncConnection, realm: Realm, template_id: UUID, *, brand_id: UUID,
    before_seq: int | None, limit: int,
) -> list[dict[str, Any]]:
    """A promotion's winning wagers, newest first: what anyone holding the revealed seed
    recomputes. The winner is named only to a key of the winner's brand."""
    rows = await conn.execute(
        text("SELECT w.seq, w.source_wager_id, w.prize_index, w.amount, w.bonus_id, "
             "w.created_at, t.currency, p.id AS user_id, p.username, p.brand_id "
             "FROM bonus_drop_wins w JOIN bonus_templates t ON t.tenant_id = w.tenant_id "
             "AND t.id = w.template_id JOIN players p ON p.tenant_id = w.tenant_id "
             "AND p.id = w.player_id WHERE w.tenant_id = :tenant_id AND w.mode = :mode "
             "AND w.template_id = :id AND (CAST(:before AS bigint) IS NULL "
             "OR w.seq < CAST(:before AS bigint)) ORDER BY w.seq DESC LIMIT :limit"),
        {**realm.params, "id": template_id, "before": before_seq, "limit": limit + 1})
    out = []
    for r in rows:
        currency = ASSETS[r.currency]
        own = r.brand_id == brand_id
        out.append({
            "_seq": int(r.seq), "source_wager_id": r.source_wager_id,
            "prize_index": int(r.prize_index), "amount": from_minor(int(r.amount), currency),
            "currency": currency.code, "bonus_id": None if r.bonus_id is None else str(r.bonus_id),
            "user": {"user_id": str(r.user_id), "username": r.username} if own else None,
            "won_at": r.created_at})
    return out
