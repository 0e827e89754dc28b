"""The player's own engagement: the engines' services called for the session's player.

Nothing here decides what an engine does: each function names the session's player to
the engine's own service (the same one the operator's routes call) and, for a play,
asks the compliance gate (``guard.require_can_play``) first. What is the player's own is
checked here: a bonus of another player is not found, and no answer names another player
by id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import repository as bonus_repository
from wowsino.bonuses import service as bonuses
from wowsino.compliance import gate
from wowsino.engines.jackpots import repository as jackpot_repository
from wowsino.engines.jackpots import views as jackpot_views
from wowsino.engines.lootbox import service as lootbox
from wowsino.engines.minigames import service as minigames
from wowsino.engines.raffles import service as raffles
from wowsino.engines.tournaments import leaderboard
from wowsino.engines.tournaments import repository as tournament_repository
from wowsino.engines.tournaments import service as tournaments
from wowsino.engines.tournaments import views as tournament_views
from wowsino.engines.tournaments.config import shown_score
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.ids import parse_uuid
from wowsino.kernel.pagination import NEWEST
from wowsino.pam import guard
from wowsino.pam.sessions import PlayerSession
from wowsino.players import service as players

Body = dict[str, Any]

# The bonus types a player claims with a promo code: those whose value the bonus engine
# works out from the template and the player's own activity. A deposit match or reload
# is claimed with its deposit (the promo code sent with it), a referral is earned by the
# referred player's deposit, a lossback needs its opt-in time, and manual, VIP comp and
# drops bonuses are the operator's or the engine's to give.
CLAIMABLE = ("no_deposit", "free_spins", "cashback", "rakeback", "ticket")
ONCE = 1  # the claims per player of a template that sets no max_grants_per_player


class NotClaimable(Conflict):
    """409 ``NOT_CLAIMABLE``: the promo code's bonus is not one a player claims."""

    status, code = 409, "NOT_CLAIMABLE"


def me(session: PlayerSession) -> str:
    """The session's player as the engines' services take a player reference."""
    return str(session.player_id)


async def claim_bonus(conn: AsyncConnection, *, session: PlayerSession, promo_code: str,
                      at: datetime) -> tuple[int, Body]:
    """Grant the active template with ``promo_code`` to the session's player through the
    bonus engine's grant (the compliance decision, the limit per player, the ledger, the
    event); a template without ``max_grants_per_player`` is claimed once per player. 404
    ``NO_TEMPLATE`` for an unknown code, 409 ``NOT_CLAIMABLE`` for a type a player does
    not claim; the grant's own answers otherwise (403 ``PROMO_RULE_VIOLATION``, 409
    ``NOT_ACTIVE``, ``MAX_GRANTS``, ``NO_BASIS``)."""
    await guard.require_can_play(conn, session.realm, session.player_id, at,
                                 gate.Action.BONUS_CLAIM)
    template = await bonus_repository.template(conn, session.realm, promo_code=promo_code)
    if template is None:
        raise NotFound("no bonus with this promo code", code="NO_TEMPLATE")
    if template["type"] not in CLAIMABLE:
        raise NotClaimable(f"a {template['type']} bonus is not claimed with its promo code "
                           "alone", type=template["type"])
    player = await players.get(conn, session.realm, session.brand_id, me(session))
    status, answer = await bonuses.grant(
        conn, realm=session.realm, service_mode=session.service_mode, player=player,
        template=template, deposit_amount=None, amount=None, reason=None, opted_in_at=None,
        source="player", source_ref=None, actor=session.actor, at=at)
    # Without a limit of its own, a template is claimed once per player (a cancelled
    # claim included): counted on the grant's own counter, after the grant, so that a
    # refusal counts nothing and a second concurrent claim rolls back whole.
    if status == 201 and template["terms"].get("max_grants_per_player") is None and \
            not await bonus_repository.count_grant(conn, session.realm, template["id"],
                                                   session.player_id, ONCE):
        raise Conflict("this promo code is claimed once per player", code="MAX_GRANTS",
                       limit=ONCE)
    return status, answer


async def cancel_bonus(conn: AsyncConnection, *, session: PlayerSession, ref: str,
                       at: datetime) -> Body:
    """Cancel one of the player's own pending bonuses (the engine's cancel: 409
    ``NOT_PENDING`` for any other state). Another player's bonus: 404 ``NO_BONUS``."""
    bonus_id = parse_uuid(ref)
    row = None if bonus_id is None else await bonus_repository.bonus(conn, session.realm,
                                                                     bonus_id)
    if row is None or row["player_id"] != session.player_id:
        raise NotFound(f"no bonus {ref!r}", code="NO_BONUS")
    return await bonuses.cancel(conn, realm=session.realm, brand_id=session.brand_id,
                                ref=ref, actor=session.actor, at=at)


async def open_lootbox(conn: AsyncConnection, *, session: PlayerSession, ref: str,
                       client_seed: str | None, at: datetime) -> Body:
    await guard.require_can_play(conn, session.realm, session.player_id, at)
    return await lootbox.open_lootbox(conn, realm=session.realm, brand_id=session.brand_id,
                                      ref=ref, user_ref=me(session), client_seed=client_seed,
                                      at=at)


async def play_mini_game(conn: AsyncConnection, *, session: PlayerSession, ref: str,
                         client_seed: str | None, at: datetime) -> Body:
    await guard.require_can_play(conn, session.realm, session.player_id, at)
    return await minigames.play_mini_game(conn, realm=session.realm,
                                          brand_id=session.brand_id, ref=ref,
                                          user_ref=me(session), client_seed=client_seed, at=at)


async def enter_raffle(conn: AsyncConnection, *, session: PlayerSession, ref: str,
                       tickets: int, at: datetime) -> Body:
    await guard.require_can_play(conn, session.realm, session.player_id, at)
    return await raffles.enter(conn, realm=session.realm, brand_id=session.brand_id, ref=ref,
                               user_ref=me(session), tickets_wanted=tickets, at=at)


async def join_tournament(conn: AsyncConnection, *, session: PlayerSession, ref: str,
                          at: datetime) -> tuple[int, Body]:
    await guard.require_can_play(conn, session.realm, session.player_id, at,
                                 gate.Action.TOURNAMENT_ENTRY)
    return await tournaments.join(conn, realm=session.realm, brand_id=session.brand_id,
                                  ref=ref, user_ref=me(session), at=at)


async def jackpots(conn: AsyncConnection, *, session: PlayerSession, status: str | None,
                   limit: int, cursor: str | None) -> Body:
    """The realm's jackpots as the public listing shows them (no winner named)."""
    rows = await jackpot_repository.listing(conn, session.realm, status=status,
                                            after=NEWEST.decode(cursor), limit=limit)
    page = NEWEST.page(rows, limit)
    page["data"] = [jackpot_views.jackpot(r, None) for r in page["data"]]
    return page


async def standings(conn: AsyncConnection, *, session: PlayerSession, ref: str, limit: int,
                    cursor: str | None, around_me: bool) -> Body:
    """A page of the leaderboard (from the top, after ``cursor``, or around the player)
    with the player's own rank and score in ``me`` (null ones before they score). Other
    players appear by username only (those of other brands not at all)."""
    if around_me and cursor:
        raise ValidationFailed("around_me: not together with cursor", field="around_me")
    page = await tournaments.standings(
        conn, realm=session.realm, brand_id=session.brand_id, ref=ref, limit=limit,
        cursor=cursor, around=me(session) if around_me else None)
    page.pop("around", None)
    tournament = await tournament_repository.load(conn, session.realm, ref)
    position = await leaderboard.rank(conn, session.realm, tournament["id"], session.player_id)
    page["me"] = {
        "user": {"user_id": me(session), "username": session.username},
        "rank": None if position is None else position.rank,
        "score": None if position is None else shown_score(
            position.score, tournament["scoring"], tournament["currency"])}
    return tournament_views.anonymous(page, keep=session.player_id)
