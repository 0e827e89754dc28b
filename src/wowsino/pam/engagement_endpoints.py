"""``/v1/player/...`` (a player session token): the player's bonuses, VIP standing,
journeys, lootboxes, mini-games, raffles, tournaments and jackpots.

Thin routes over ``pam.engagement``, which calls the engines' own services for the
session's player: the same requests and answers as the operator's routes, without the
player reference. Every write is idempotent (``idempotency_key`` in the body or the
``Idempotency-Key`` header; a player's keys are their own). Every play answers 403
``TIMED_OUT``, ``SELF_EXCLUDED`` or ``PLAYER_BLOCKED`` before anything happens when
the player may not play (``pam.guard``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Request

from wowsino.bonuses import service as bonuses
from wowsino.bonuses.endpoints import BY_SEQ
from wowsino.engines import draws
from wowsino.engines.draws.flow import draw_lookups
from wowsino.engines.journeys import service as journeys
from wowsino.engines.lootbox.service import LOOTBOX
from wowsino.engines.minigames.service import MINI_GAME
from wowsino.engines.raffles import service as raffles
from wowsino.engines.raffles.schemas import RaffleStatus
from wowsino.engines.tournaments import service as tournaments
from wowsino.engines.tournaments.schemas import Status as TournamentStatus
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.replicas import reading, routed_read
from wowsino.kernel.writes import Body, platform_of, write, write_answer
from wowsino.pam import engagement, guard
from wowsino.pam.schemas import ClaimIn, EnterIn, KeyOnly, PlayIn
from wowsino.pam.sessions import CurrentPlayer, PlayerSession
from wowsino.vip import service as vip

router = APIRouter(prefix="/player", tags=["player engagement"], route_class=DecimalRoute)

Errors = dict[int | str, dict[str, Any]]
REFUSED = ("TIMED_OUT (a time-out is running), SELF_EXCLUDED, PLAYER_BLOCKED (the "
           "account may not play) or the compliance gate's refusal; nothing changed")
PLAY: Errors = {
    400: {"description": "VALIDATION_ERROR naming the field"},
    402: {"description": "INSUFFICIENT_WINZ: the cost; nothing changed"},
    403: {"description": REFUSED},
    422: {"description": "IDEMPOTENCY_KEY_REUSED"},
}
ActiveOrPaused = Literal["active", "paused"]


def _session_lookups(session: PlayerSession) -> list[Any]:
    return [guard.lookup(session.realm, session.player_id)]


# --- bonuses -------------------------------------------------------------------------------

@router.get("/bonuses",
            summary="The player's bonuses with wagering progress, turnover left, time left "
                    "and stakes, newest first")
@routed_read
async def list_bonuses(request: Request, session: CurrentPlayer, limit: Limit = None,
                       cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = BY_SEQ.decode(cursor)
    p = platform_of(request)
    async with reading(request) as conn:
        rows = await bonuses.player_bonuses(
            conn, realm=session.realm, brand_id=session.brand_id, ref=engagement.me(session),
            before_seq=after[0] if after else None, limit=size, now=p.clock.now())
    result = BY_SEQ.page(rows, size)
    for row in result["data"]:
        row.pop("_seq", None)
    return MoneyJSONResponse(result)


@router.post("/bonuses/claim", status_code=201,
             summary="Claim a bonus by its promo code (the bonus engine's grant)",
             responses={**PLAY, 403: {"description": f"PROMO_RULE_VIOLATION, {REFUSED}"},
                        404: {"description": "NO_TEMPLATE: no bonus with this promo code"},
                        409: {"description": "NOT_CLAIMABLE, NOT_ACTIVE, MAX_GRANTS, "
                                             "NO_BASIS, IDEMPOTENCY_IN_PROGRESS"}})
async def claim_bonus(body: ClaimIn, request: Request,
                      session: CurrentPlayer) -> MoneyJSONResponse:
    return await write_answer(request, session, payload=body.model_dump(),
                              call=lambda conn, at: engagement.claim_bonus(
                                  conn, session=session, promo_code=body.promo_code, at=at),
                              lookups=_session_lookups(session))


@router.post("/bonuses/{bonus_id}/cancel", summary="Cancel one of the player's pending bonuses",
             responses={404: {"description": "NO_BONUS: not a bonus of this player"},
                        409: {"description": "NOT_PENDING, IDEMPOTENCY_IN_PROGRESS"},
                        422: {"description": "IDEMPOTENCY_KEY_REUSED"}})
async def cancel_bonus(bonus_id: str, request: Request, session: CurrentPlayer,
                       body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await write(request, session, payload=(body or KeyOnly()).model_dump(), status=200,
                       call=lambda conn, at: engagement.cancel_bonus(
                           conn, session=session, ref=bonus_id, at=at))


# --- VIP and journeys ------------------------------------------------------------------------

@router.get("/vip", summary="The player's VIP standing: level, XP today and cap, progress, "
                            "cashback accrued")
@routed_read
async def get_vip(request: Request, session: CurrentPlayer) -> MoneyJSONResponse:
    p = platform_of(request)
    async with reading(request) as conn:
        return MoneyJSONResponse(await vip.player_view(
            conn, realm=session.realm, brand_id=session.brand_id, ref=engagement.me(session),
            now=p.clock.now()))


@router.get("/journeys", summary="The player's journeys: status, step, steps_total, expires_at")
@routed_read
async def list_journeys(request: Request, session: CurrentPlayer, limit: Limit = None,
                        cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    p = platform_of(request)
    async with reading(request) as conn:
        return MoneyJSONResponse(await journeys.player_runs(
            conn, realm=session.realm, brand_id=session.brand_id, ref=engagement.me(session),
            limit=size, cursor=cursor, now=p.clock.now()))


# --- lootboxes and mini-games --------------------------------------------------------------

async def _prize_games(request: Request, session: PlayerSession, game: draws.PrizeGame,
                       status: str | None, limit: int | None,
                       cursor: str | None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        return MoneyJSONResponse(await draws.listing(
            conn, game=game, realm=session.realm, status=status, limit=size, cursor=cursor))


@router.get("/lootboxes", summary="The lootboxes with their prize tables and costs")
@routed_read
async def list_lootboxes(request: Request, session: CurrentPlayer,
                         status: ActiveOrPaused | None = None, limit: Limit = None,
                         cursor: str | None = None) -> MoneyJSONResponse:
    return await _prize_games(request, session, LOOTBOX, status, limit, cursor)


async def _draw(request: Request, session: PlayerSession, kind: Any, ref: str,
                body: PlayIn | None, draw: Callable[..., Awaitable[Body]]) -> MoneyJSONResponse:
    """A lootbox open or a mini-game play by the session's player: ``draw`` is the
    engagement call, ``kind`` the draw engine (its look-ups ride with the key's claim)."""
    chosen = body or PlayIn()
    return await write(request, session, payload=chosen.model_dump(exclude_unset=True),
                       status=201, call=lambda conn, at: draw(
                           conn, session=session, ref=ref, client_seed=chosen.client_seed,
                           at=at),
                       lookups=[*_session_lookups(session), *draw_lookups(
                           kind, session.realm, session.brand_id, ref, engagement.me(session))])


@router.post("/lootboxes/{lootbox_id}/open", status_code=201,
             summary="Open a lootbox (provably fair draw, reward credited)",
             responses={**PLAY, 404: {"description": "NO_LOOTBOX"},
                        409: {"description": "NOT_ACTIVE (paused), IDEMPOTENCY_IN_PROGRESS"}})
async def open_lootbox(lootbox_id: str, request: Request, session: CurrentPlayer,
                       body: PlayIn | None = None) -> MoneyJSONResponse:
    return await _draw(request, session, LOOTBOX, lootbox_id, body, engagement.open_lootbox)


@router.get("/mini-games", summary="The mini-games with their prize tables, costs and limits")
@routed_read
async def list_mini_games(request: Request, session: CurrentPlayer,
                          status: ActiveOrPaused | None = None, limit: Limit = None,
                          cursor: str | None = None) -> MoneyJSONResponse:
    return await _prize_games(request, session, MINI_GAME, status, limit, cursor)


@router.post("/mini-games/{mini_game_id}/play", status_code=201,
             summary="Play a mini-game (provably fair draw, reward credited)",
             responses={**PLAY, 404: {"description": "NO_MINI_GAME"},
                        409: {"description": "NOT_ACTIVE (paused), PLAY_LIMIT_REACHED, "
                                             "IDEMPOTENCY_IN_PROGRESS"}})
async def play_mini_game(mini_game_id: str, request: Request, session: CurrentPlayer,
                         body: PlayIn | None = None) -> MoneyJSONResponse:
    return await _draw(request, session, MINI_GAME, mini_game_id, body,
                       engagement.play_mini_game)


# --- raffles ---------------------------------------------------------------------------------

@router.get("/raffles", summary="The raffles: status, public configuration, seed hash")
@routed_read
async def list_raffles(request: Request, session: CurrentPlayer,
                       status: RaffleStatus | None = None, limit: Limit = None,
                       cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        return MoneyJSONResponse(await raffles.listing(
            conn, session.realm, status=status, limit=size, cursor=cursor, viewer_brand=None))


@router.post("/raffles/{raffle_id}/enter", status_code=201,
             summary="Buy raffle tickets (debits ticket_cost_winz × tickets)",
             responses={**PLAY, 403: {"description": f"LIMIT_EXCEEDED, {REFUSED}"},
                        404: {"description": "NO_RAFFLE"},
                        409: {"description": "NOT_ACTIVE, IDEMPOTENCY_IN_PROGRESS"}})
async def enter_raffle(raffle_id: str, body: EnterIn, request: Request,
                       session: CurrentPlayer) -> MoneyJSONResponse:
    return await write(request, session, payload=body.model_dump(), status=201,
                       call=lambda conn, at: engagement.enter_raffle(
                           conn, session=session, ref=raffle_id, tickets=body.tickets, at=at),
                       lookups=_session_lookups(session))


@router.get("/raffles/{raffle_id}/entries",
            summary="The player's own entries in a raffle: their tickets and holder id",
            responses={404: {"description": "NO_RAFFLE"}})
@routed_read
async def raffle_entries(raffle_id: str, request: Request,
                         session: CurrentPlayer) -> MoneyJSONResponse:
    async with reading(request) as conn:
        return MoneyJSONResponse(await raffles.player_entries(
            conn, realm=session.realm, brand_id=session.brand_id, ref=raffle_id,
            user_ref=engagement.me(session)))


# --- tournaments and jackpots ------------------------------------------------------------------

@router.get("/tournaments",
            summary="The tournaments with their configuration, status and participants")
@routed_read
async def list_tournaments(request: Request, session: CurrentPlayer,
                           status: TournamentStatus | None = None, limit: Limit = None,
                           cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    p = platform_of(request)
    async with reading(request) as conn:
        return MoneyJSONResponse(await tournaments.listing(
            conn, session.realm, status=status, limit=size, cursor=cursor, at=p.clock.now()))


@router.post("/tournaments/{tournament_id}/join", status_code=201,
             summary="Join a tournament (what an opt-in tournament needs before it scores)",
             responses={**PLAY, 200: {"description": "already joined, or a replay"},
                        404: {"description": "NO_TOURNAMENT"},
                        409: {"description": "NOT_ACTIVE, TOURNAMENT_FULL, "
                                             "IDEMPOTENCY_IN_PROGRESS"}})
async def join_tournament(tournament_id: str, request: Request, session: CurrentPlayer,
                          body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await write_answer(request, session, payload=(body or KeyOnly()).model_dump(),
                              call=lambda conn, at: engagement.join_tournament(
                                  conn, session=session, ref=tournament_id, at=at),
                              lookups=[*_session_lookups(session), *tournaments.write_lookups(
                                  session.realm, session.brand_id, tournament_id,
                                  engagement.me(session))])


@router.get("/tournaments/{tournament_id}/leaderboard",
            summary="Standings {rank, user, score} with the player's own rank and score "
                    "(me); other players by username only",
            responses={400: {"description": "VALIDATION_ERROR: around_me with a cursor"},
                       404: {"description": "NO_TOURNAMENT"}})
@routed_read
async def tournament_leaderboard(tournament_id: str, request: Request, session: CurrentPlayer,
                                 limit: Limit = None, cursor: str | None = None,
                                 around_me: bool = False) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        return MoneyJSONResponse(await engagement.standings(
            conn, session=session, ref=tournament_id, limit=size, cursor=cursor,
            around_me=around_me))


@router.get("/jackpots", summary="The jackpots with their pool, round and last drop")
@routed_read
async def list_jackpots(request: Request, session: CurrentPlayer,
                        status: ActiveOrPaused | None = None, limit: Limit = None,
                        cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    async with reading(request) as conn:
        return MoneyJSONResponse(await engagement.jackpots(
            conn, session=session, status=status, limit=size, cursor=cursor))
