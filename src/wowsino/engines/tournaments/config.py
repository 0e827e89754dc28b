"""A tournament's configuration: what a create or a PATCH may say, checked, as columns.

Scores are fixed-point integers (never floats), in *score units*:

==================  ============================================================
scoring             one unit is
==================  ============================================================
sum_wagered         a minor unit of the tournament's currency (0.01 USD)
sum_won             a minor unit of the tournament's currency
bet_count           one bet
max_multiplier      10^-6 of a multiplier (win / stake, rounded down)
sum_multipliers     10^-6 of a multiplier, summed
points              10^-6 of a point
==================  ============================================================

``currency``: the wagers a tournament counts. It is required by the money scorings and
by ``min_bet`` and defaults to USD for them; otherwise, left out, the tournament counts
wagers in every currency.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.tournaments import recurrence, repository
from wowsino.events.wagers import MAX_EVENT_MINOR
from wowsino.kernel.errors import Conflict, NotActive, ValidationFailed
from wowsino.kernel.jsonio import loads
from wowsino.kernel.money import ASSETS, Asset, asset, from_minor, to_minor
from wowsino.kernel.realm import Realm

MONEY_SCORINGS = ("sum_wagered", "sum_won")
MULTIPLIER_SCORINGS = ("max_multiplier", "sum_multipliers")
FRACTION_DIGITS = 6  # multipliers and points: score units of 10^-6
DEFAULT_CURRENCY = "USD"
MAX_DURATION = timedelta(days=366)
MAX_POINTS = Decimal(10) ** 9  # per POST /score
# may change once the tournament has started (the rest decides who scored what)
WHILE_RUNNING = {"name", "ends_at", "prize_table", "max_participants", "recurrence"}


def score_scale(scoring: str, currency: str | None) -> int:
    """Decimal places of a score unit."""
    if scoring in MONEY_SCORINGS:
        return ASSETS[currency or DEFAULT_CURRENCY].scale
    return 0 if scoring == "bet_count" else FRACTION_DIGITS


def shown_score(value: int | Decimal, scoring: str, currency: str | None) -> Decimal:
    """A score in score units as the API shows it: money with the currency's decimals,
    counts whole, multipliers and points without trailing zeros."""
    places = score_scale(scoring, currency)
    if scoring in MONEY_SCORINGS:
        return from_minor(int(value), ASSETS[currency or DEFAULT_CURRENCY])
    number = Decimal(int(value)).scaleb(-places)
    plain = number.normalize()
    return plain.quantize(Decimal(1)) if plain == plain.to_integral_value() else plain


def amounts_asset(tournament: dict[str, Any]) -> Asset:
    """The asset ``POST /score`` amounts are read in: the tournament's currency or, for a
    tournament of every currency, any amount with up to 8 decimals."""
    code = tournament["currency"]
    return ASSETS[code] if code else Asset("ANY", 8, "fiat", MAX_EVENT_MINOR)


def _currency(code: str) -> str:
    found = asset(code, field="currency")
    if not found.is_currency:
        raise ValidationFailed(f"currency: {found.code} is not a currency", field="currency")
    return found.code


def _bet(value: Any, currency: str) -> int:
    minor = to_minor(value, ASSETS[currency], field="min_bet")
    if minor > MAX_EVENT_MINOR:
        raise ValidationFailed("min_bet: larger than any wager event may be", field="min_bet")
    return minor


def _window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at: must be after starts_at", field="ends_at")
    if ends_at - starts_at > MAX_DURATION:
        raise ValidationFailed("ends_at: a tournament lasts at most 366 days", field="ends_at")


def _recurrence(raw: dict[str, Any] | None) -> recurrence.Recurrence | None:
    if raw is None:
        return None
    recurrence.zone(raw["timezone"])
    return recurrence.Recurrence(raw["every"], raw["timezone"])


async def prize_table(
    conn: AsyncConnection, realm: Realm, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The prize table, checked and canonical (amounts as decimal strings, a bonus template
    by its id), in rank order. Ranges may leave gaps but never overlap; an asset prize
    times its ranks must fit the asset's bound. 404 ``NO_TEMPLATE`` for an unknown
    template."""
    from wowsino.bonuses import service as bonuses  # the bonus engine builds on the engines

    table: list[dict[str, Any]] = []
    for i, row in sorted(enumerate(rows), key=lambda item: item[1]["rank_from"]):
        where = f"prize_table.{i}"
        first, last = row["rank_from"], row["rank_to"]
        if last < first:
            raise ValidationFailed(f"{where}.rank_to: must be at least rank_from",
                                   field=f"{where}.rank_to")
        if table and first <= table[-1]["rank_to"]:
            raise ValidationFailed(f"{where}: ranks {first}-{last} overlap another row",
                                   field=f"{where}.rank_from")
        prize = row["prize"]
        if (prize.get("bonus_template") is None) == (prize.get("asset") is None):
            raise ValidationFailed(f"{where}.prize: either asset and amount, or bonus_template",
                                   field=f"{where}.prize")
        if prize.get("bonus_template") is not None:
            if prize.get("amount") is not None:
                raise ValidationFailed(f"{where}.prize.amount: not with a bonus_template",
                                       field=f"{where}.prize.amount")
            template = await bonuses.load_template(conn, realm, prize["bonus_template"])
            shown: dict[str, Any] = {"bonus_template": str(template["id"])}
        else:
            shown = _asset_prize(prize, where, ranks=last - first + 1)
        table.append({"rank_from": first, "rank_to": last, "prize": shown})
    return table


def _asset_prize(prize: dict[str, Any], where: str, *, ranks: int) -> dict[str, Any]:
    found = asset(prize["asset"], field=f"{where}.prize.asset")
    if prize.get("amount") is None:
        raise ValidationFailed(f"{where}.prize.amount: required with an asset",
                               field=f"{where}.prize.amount")
    minor = to_minor(prize["amount"], found, field=f"{where}.prize.amount")
    if minor * ranks > found.max_minor:
        raise ValidationFailed(f"{where}.prize.amount: the row pays more than "
                               f"{from_minor(found.max_minor, found)} {found.code} in all",
                               field=f"{where}.prize.amount")
    return {"asset": found.code, "amount": str(from_minor(minor, found))}


def last_rank(table: list[dict[str, Any]]) -> int:
    return max(int(row["rank_to"]) for row in table)


def prize_for(table: list[dict[str, Any]], rank: int) -> dict[str, Any] | None:
    for row in table:
        if row["rank_from"] <= rank <= row["rank_to"]:
            prize: dict[str, Any] = row["prize"]
            return prize
    return None


def stored(value: Any) -> Any:
    """A jsonb column as Python (asyncpg hands jsonb over as text)."""
    return loads(value) if isinstance(value, str) else value


def _resolve_currency(scoring: str, currency: str | None, has_min_bet: bool) -> str | None:
    if currency is not None:
        return _currency(currency)
    return DEFAULT_CURRENCY if scoring in MONEY_SCORINGS or has_min_bet else None


async def creation(
    conn: AsyncConnection, realm: Realm, fields: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """The columns of a new tournament from a checked body; 400 naming the bad field."""
    _window(fields["starts_at"], fields["ends_at"])
    if fields["ends_at"] <= at:
        raise ValidationFailed("ends_at: must be in the future", field="ends_at")
    currency = _resolve_currency(fields["scoring"], fields.get("currency"),
                                 fields.get("min_bet") is not None)
    rec = _recurrence(fields.get("recurrence"))
    if rec is not None:
        recurrence.check(fields["starts_at"], fields["ends_at"], rec)
    return {
        "name": fields["name"], "scoring": fields["scoring"],
        "starts_at": fields["starts_at"], "ends_at": fields["ends_at"], "currency": currency,
        "min_bet": None if fields.get("min_bet") is None else _bet(fields["min_bet"], currency
                                                                   or DEFAULT_CURRENCY),
        "game_categories": _categories(fields.get("game_categories")),
        "opt_in": bool(fields.get("opt_in", False)),
        "max_participants": fields.get("max_participants"),
        "prize_table": await prize_table(conn, realm, fields["prize_table"]),
        "recurrence": None if rec is None else rec.as_json(),
    }


def _categories(raw: list[str] | None) -> list[str] | None:
    if raw is None:
        return None
    if len(set(raw)) != len(raw):
        raise ValidationFailed("game_categories: each category once", field="game_categories")
    return sorted(raw)


async def changes(
    conn: AsyncConnection, realm: Realm, tournament: dict[str, Any],
    requested: dict[str, Any], at: datetime,
) -> dict[str, Any]:
    """The columns a PATCH sets. A closed tournament changes no more (409 ``NOT_ACTIVE``);
    once started only ``WHILE_RUNNING`` fields may change (409 ``TOURNAMENT_STARTED``)."""
    if tournament["status"] == "closed":
        raise NotActive("this tournament is closed", status="closed")
    for name in ("name", "scoring", "starts_at", "ends_at", "prize_table", "opt_in", "currency"):
        if name in requested and requested[name] is None:
            raise ValidationFailed(f"{name}: must not be null", field=name)
    frozen = sorted(set(requested) - WHILE_RUNNING)
    if frozen and tournament["starts_at"] <= at:
        raise Conflict(f"{frozen[0]}: this tournament has started; only "
                       f"{', '.join(sorted(WHILE_RUNNING))} may change",
                       code="TOURNAMENT_STARTED", field=frozen[0])
    merged = {**tournament, **{k: v for k, v in requested.items()
                               if k not in ("prize_table", "min_bet", "currency",
                                            "game_categories", "recurrence")}}
    values: dict[str, Any] = {k: requested[k] for k in ("name", "scoring", "opt_in")
                              if k in requested}
    if "starts_at" in requested or "ends_at" in requested:
        _window(merged["starts_at"], merged["ends_at"])
        if merged["ends_at"] <= at:
            raise ValidationFailed("ends_at: must be in the future", field="ends_at")
        values.update(starts_at=merged["starts_at"], ends_at=merged["ends_at"])
    if {"scoring", "currency", "min_bet"} & set(requested):
        values.update(_money_columns(tournament, requested, merged["scoring"]))
    if "game_categories" in requested:
        values["game_categories"] = _categories(requested["game_categories"])
    if "max_participants" in requested:
        cap = requested["max_participants"]
        entered = tournament["participants"]
        if cap is not None and tournament["max_participants"] is None:
            entered = await repository.fold_entry_counts(conn, realm, tournament["id"])
        if cap is not None and cap < entered:
            raise ValidationFailed(f"max_participants: {entered} players have entered "
                                   "already", field="max_participants")
        values["max_participants"] = cap
    if "prize_table" in requested:
        values["prize_table"] = await prize_table(conn, realm, requested["prize_table"])
    if "recurrence" in requested or "starts_at" in values:
        rec = _recurrence(requested["recurrence"] if "recurrence" in requested
                          else stored(tournament["recurrence"]))
        if rec is not None:
            recurrence.check(merged["starts_at"], merged["ends_at"], rec)
        values["recurrence"] = None if rec is None else rec.as_json()
    return values


def _money_columns(tournament: dict[str, Any], requested: dict[str, Any],
                   scoring: str) -> dict[str, Any]:
    """``currency`` and ``min_bet`` after a PATCH that touches either or the scoring."""
    currency = requested.get("currency", tournament["currency"])
    raw_bet = requested.get("min_bet")
    keeps_bet = "min_bet" not in requested and tournament["min_bet"] is not None
    resolved = _resolve_currency(scoring, currency, raw_bet is not None or keeps_bet)
    if raw_bet is not None:
        bet: int | None = _bet(raw_bet, resolved or DEFAULT_CURRENCY)
    elif keeps_bet:
        bet = int(tournament["min_bet"])
        if resolved != tournament["currency"]:
            raise ValidationFailed("min_bet: give it again in the new currency",
                                   field="min_bet")
    else:
        bet = None
    return {"currency": resolved, "min_bet": bet}
