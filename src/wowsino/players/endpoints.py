"""``/v1/players``: thin routes over ``players.service``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.direct import direct
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.money import Rail, asset, check_rail_asset
from wowsino.kernel.pagination import NEWEST, Limit, check_limit
from wowsino.kernel.realm import request_id_var
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import grouped, platform_of, write, write_answer
from wowsino.players import explain, history, repository, service
from wowsino.players.grouped import coalescer as adjustment_group
from wowsino.players.schemas import AdjustmentIn, PlayerIn, PlayerStatus, RgIn, StatusIn

router = APIRouter(prefix="/players", tags=["players"], route_class=DecimalRoute)

Read = Annotated[Principal, scoped("players:read")]
Write = Annotated[Principal, scoped("players:write")]
Config = Annotated[Principal, scoped("config:write")]


@router.post("", status_code=201, summary="Create or update a player (upsert on brand + username)",
             responses={200: {"description": "updated"}, 201: {"description": "created"}})
@direct
async def upsert_player(body: PlayerIn, request: Request, principal: Write) -> MoneyJSONResponse:
    fields = body.model_dump(exclude_unset=True)
    return await write_answer(
        request, principal, payload=fields,
        call=lambda conn, at: service.upsert(
            conn, realm=principal.realm, brand_id=principal.brand_id,
            fields={k: v for k, v in fields.items() if k != "idempotency_key"},
            actor=principal.actor, at=at),
        lookups=[repository.find_lookup(principal.realm, principal.brand_id, body.username,
                                        for_update=True)])


@router.get("", summary="Search players")
@routed_read
async def search_players(
    request: Request, principal: Read, query: str | None = None,
    status: PlayerStatus | None = None, tag: str | None = None, limit: Limit = None,
    cursor: str | None = None,
) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    p = platform_of(request)
    async with reading(request) as conn:
        rows = await repository.search(conn, principal.realm, principal.brand_id, query=query,
                                       status=status, tag=tag, after=after, limit=size)
        result = NEWEST.page(rows, size)
        result["data"] = await service.dossiers(conn, principal.realm, result["data"],
                                                p.clock.now())
    return MoneyJSONResponse(result)


@router.get("/{key}", summary="The player dossier (by username or UUID)")
@routed_read
async def get_player(key: str, request: Request, principal: Read) -> MoneyJSONResponse:
    p = platform_of(request)
    async with reading(request) as conn:
        row = await service.get(conn, principal.realm, principal.brand_id, key)
        return MoneyJSONResponse({"player": await service.dossier(conn, principal.realm, row,
                                                                  p.clock.now())})


@router.patch("/{key}/status", summary="Change a player's status (reason kept as a note)",
              responses={409: {"description": "SELF_EXCLUSION_ACTIVE: a self-exclusion the "
                                              "player asked for runs (only closed is accepted)"}})
async def change_status(key: str, body: StatusIn, request: Request,
                        principal: Write) -> MoneyJSONResponse:
    return await write(
        request, principal, payload=body.model_dump(mode="json"), status=200,
        call=lambda conn, at: service.change_status(
            conn, realm=principal.realm, brand_id=principal.brand_id, ref=key,
            status=body.status, reason=body.reason, actor=principal.actor, at=at))


@router.post("/{key}/rg", summary="Set responsible-gaming limits (tighten now, loosen after 24 h)")
async def update_rg(key: str, body: RgIn, request: Request, principal: Write) -> MoneyJSONResponse:
    requested = body.model_dump(exclude_unset=True)
    payload = dict(requested)
    requested.pop("idempotency_key", None)
    return await write(request, principal, payload=payload, status=200,
                       call=lambda conn, at: service.update_rg(
                           conn, realm=principal.realm, brand_id=principal.brand_id,
                           service_mode=principal.service_mode, ref=key, requested=requested,
                           actor=principal.actor, at=at))


@router.post("/{key}/adjustments", status_code=201,
             summary="Credit or debit a player against the rail's system account")
@direct
async def adjust(key: str, body: AdjustmentIn, request: Request,
                 principal: Config) -> MoneyJSONResponse:
    wanted = service.Adjustment(key, body.rail, body.asset, body.amount, body.reason,
                                principal.actor, request_id_var.get())
    if body.rail != Rail.XP.value:
        # concurrent adjustments of a brand share a commit (players/grouped.py); XP moves
        # VIP levels, written one request at a time
        return await grouped(request, principal, payload=body.model_dump(), item=wanted,
                             coalescer=platform_of(request).coalescer("adjustment",
                                                                      adjustment_group))
    return await write_answer(
        request, principal, payload=body.model_dump(),
        call=lambda conn, at: service.adjust_one(
            conn, realm=principal.realm, brand_id=principal.brand_id, wanted=wanted, at=at),
        lookups=[repository.find_lookup(principal.realm, principal.brand_id, key)])


@router.get("/{key}/timeline", summary="Status changes, notes, ledger entries, newest first")
@routed_read
async def get_timeline(key: str, request: Request, principal: Read, limit: Limit = None,
                       cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        row = await service.get(conn, principal.realm, principal.brand_id, key)
        return MoneyJSONResponse(await history.timeline(conn, principal.realm, row["id"],
                                                        limit=size, cursor=cursor))


@router.get("/{key}/ledger", summary="The player's postings with running balances")
@routed_read
async def get_ledger(key: str, request: Request, principal: Read, limit: Limit = None,
                     cursor: str | None = None, rail: str | None = None,
                     asset: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        row = await service.get(conn, principal.realm, principal.brand_id, key)
        return MoneyJSONResponse(await history.ledger_view(
            conn, principal.realm, row["id"], limit=size, cursor=cursor, rail=rail,
            asset_code=asset))


@router.get(
    "/{key}/balances/{rail}/{asset}/explain",
    summary="Explain one balance: its ledger entries newest first, each with its source and "
            "the running balance, and any source paid twice",
    description=(
        "The entries that made the player's balance on ``rail`` in ``asset``, newest first "
        "(keyset-paginated: ``limit`` 1–500, default 50, and ``cursor``). Each entry shows "
        "its signed ``amount``, its ``kind``, its ``source`` (the wager, bonus and template, "
        "draw with a ``verify_url`` to the public verifier page, adjustment with its actor "
        "and reason, deposit or withdrawal…) and ``balance_after``: the newest entry's "
        "``balance_after`` is the balance the dossier shows. ``duplicates`` lists entries of "
        "one kind caused by one source more than once (normally empty); ``consistent`` says "
        "that the running balances chain from entry to entry."),
    responses={400: {"description": "VALIDATION_ERROR naming rail, asset, limit or cursor; "
                                    "CURRENCY_MISMATCH for money in another currency than "
                                    "the player's"},
               404: {"description": "NO_PLAYER"}})
@routed_read
async def explain_balance(
    key: str, request: Request, principal: Read,
    rail: Annotated[Rail, Path(description="real, bonus, winz or xp")],
    asset_code: Annotated[str, Path(alias="asset", max_length=16,
                                    description="the asset: the player's currency, WINZ or XP")],
    limit: Limit = None, cursor: str | None = None,
) -> MoneyJSONResponse:
    size = check_limit(limit)
    unit = asset(asset_code)
    check_rail_asset(rail, unit)
    async with reading(request) as conn:
        row = await service.get(conn, principal.realm, principal.brand_id, key)
        service.check_currency(row, rail, unit)
        return MoneyJSONResponse(await explain.explain(
            conn, principal.realm, row["id"], rail, unit, limit=size, cursor=cursor))
