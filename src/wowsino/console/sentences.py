"""Audit rows as an operator reads them: a sentence for the action and a list of what
changed, every amount in its currency's unit, never minor units nor raw JSON.

An audited ``before``/``after`` is a JSON object whose money fields are stored as
integers in minor units (``"seed": 100000`` for 1,000.00 USD) — or, where the row keeps
an API view, as decimals already in the currency's unit (``"amount": 10.00``): the
number's type tells which (``kernel.jsonio.loads`` reads decimals as ``Decimal`` and
whole numbers as ``int``). Which fields are money is known by name (``MONEY_FIELDS``,
plus every field under ``MONEY_MAPS``, keyed by currency); the currency is the row's own
(``currency`` or ``asset``) or the one the caller knows (the player's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from wowsino.kernel.money import ASSETS, Asset, from_minor
from wowsino.players.rg import MONEY_LIMITS

MONEY_FIELDS = frozenset({
    *MONEY_LIMITS, "amount", "amount_removed", "balance", "balance_after", "balance_before",
    "bonus_amount", "budget",
    "contributed", "deposit_amount", "deposit_cap_monthly", "free_spin_value", "limit",
    "max_amount", "max_bet", "max_conversion", "max_stake", "min_deposit", "must_drop_at",
    "pool", "prize", "real_credited", "round_must_drop_at", "seed", "seed_usd",
    "slot_stake_cap", "slot_stake_cap_young_adult", "total_cost", "total_paid",
})
# objects whose keys are currency codes and whose values are amounts
MONEY_MAPS = frozenset({"auto_approve_below", "limits_by_currency", "budgets"})
# what some actions read as, beyond "<Noun> <verb>" (the action's own words)
PHRASES = {
    "player.created": "Player registered",
    "player.adjusted": "Balance adjusted by hand",
    "player.rg_changed": "Responsible-gaming limits changed",
    "player.rg_applied": "A waiting limit change took effect",
    "player.self_excluded": "The player excluded themselves",
    "player.self_exclusion_ended": "The self-exclusion ended",
    "player.session_created": "Signed in",
    "player.logged_out": "Signed out",
    "compliance.refused": "Refused by the compliance gate",
    "engagement.skipped": "Left out of an engagement (responsible gaming)",
    "kyc.decision": "KYC decision recorded",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "webhook_delivery.redelivered": "Webhook delivery queued again",
    "game.round_swept": "An idle game round was settled as lost",
    "crm.budget_updated": "CRM budget changed",
}
LONGEST = 200  # characters of one shown value
HIDDEN = frozenset({"password", "password_hash", "secret", "credentials", "token"})


@dataclass(frozen=True, slots=True)
class Change:
    label: str
    before: str | None  # None: the field was not there
    after: str | None


@dataclass(frozen=True, slots=True)
class Description:
    sentence: str
    changes: list[Change]


def _words(name: str) -> str:
    return name.replace("_", " ").replace(".", " · ")


def sentence(action: str) -> str:
    """``jackpot.created`` → "Jackpot created" (or the action's own phrase)."""
    if action in PHRASES:
        return PHRASES[action]
    noun, _, verb = action.partition(".")
    text = f"{_words(noun)} {_words(verb)}".strip()
    return text[:1].upper() + text[1:]


def _currency_of(*objects: Any, fallback: Asset | None) -> Asset | None:
    for found in objects:
        if isinstance(found, dict):
            for key in ("currency", "asset", "type"):
                code = found.get(key)
                if isinstance(code, str) and code.upper() in ASSETS:
                    return ASSETS[code.upper()]
    return fallback


def _amount(value: Any, currency: Asset | None) -> str:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return _plain(value, currency)
    if currency is None:  # no currency known: the number as given, never guessed
        return f"{value:,}"
    shown = from_minor(value, currency) if isinstance(value, int) else value
    return f"{Decimal(shown):,} {currency.code}"


def _plain(value: Any, currency: Asset | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal):
        return f"{value:,}"
    if isinstance(value, list):  # a list's objects name their own currency, or none
        return ", ".join(_plain(item, _currency_of(item, fallback=None)) for item in value) \
            or "none"
    if isinstance(value, dict):
        return "; ".join(f"{_words(str(k))} {_value(str(k), v, currency)}"
                         for k, v in value.items()) or "none"
    text = str(value)
    if len(text) >= 20 and text[4:5] == "-" and "T" in text:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime(
                "%Y-%m-%d %H:%M UTC")
        except ValueError:
            pass
    return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"


def _value(key: str, value: Any, currency: Asset | None, parent: str = "") -> str:
    if key in HIDDEN:
        return "(hidden)"
    if key in MONEY_FIELDS or (key == "value" and parent in MONEY_FIELDS):
        return _amount(value, currency)
    if key in ASSETS:  # an amount keyed by its currency
        return _amount(value, ASSETS[key])
    if key.endswith("_pct") and isinstance(value, int | Decimal):
        return f"{value}%"
    if key in MONEY_MAPS and isinstance(value, dict):
        return ", ".join(_amount(v, ASSETS.get(str(k))) for k, v in value.items()) or "none"
    return _plain(value, currency)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects as ``parent.child`` paths (money maps and lists stay whole)."""
    if not isinstance(value, dict):
        return {prefix or "value": value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item and str(key) not in MONEY_MAPS | HIDDEN:
            flat.update(_flatten(item, path))
        else:
            flat[path] = item
    return flat


def describe(action: str, before: Any, after: Any, *,
             currency: Asset | None = None) -> Description:
    """The sentence and the changed fields of one audit row (only what differs when the
    row has both sides; everything it has otherwise)."""
    unit = _currency_of(after, before, fallback=currency)
    old = _flatten(before) if before is not None else {}
    new = _flatten(after) if after is not None else {}
    changes = []
    for path in [*new, *(p for p in old if p not in new)]:
        if before is not None and after is not None and old.get(path) == new.get(path):
            continue
        *parents, key = path.split(".")
        parent = parents[-1] if parents else ""
        label = _words(path)
        changes.append(Change(
            label[:1].upper() + label[1:],
            _value(key, old[path], unit, parent) if path in old else None,
            _value(key, new[path], unit, parent) if path in new else None))
    return Description(sentence(action), changes)
