"""A template's terms: checked per type and stored in minor units of its currency.

Percentages are percent (``amount_pct: 100`` is a 100% match); weights are factors
(``{"slots": 1, "table": 0.1}``). Stored terms hold integers for money and decimal
strings for factors, so they hash and compare exactly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import Asset, from_minor, to_minor

MONEY = ("amount", "max_amount", "max_bet", "max_conversion", "free_spin_value", "min_deposit")
PLAIN = ("wagering_multiple", "wagering_basis", "expires_in_hours", "max_grants_per_player",
         "free_spin_count", "eligible_games", "auto_grant", "period_hours", "raffle_id",
         "tickets", "drop_rate", "amount_pct")
REQUIRED = {
    "no_deposit": ("amount",),
    "referral": ("amount",),
    "deposit_match": ("amount_pct",),
    "reload": ("amount_pct",),
    "free_spins": ("free_spin_count", "free_spin_value"),
    "cashback": ("amount_pct",),
    "lossback": ("amount_pct",),
    "rakeback": ("amount_pct",),
    "ticket": ("raffle_id", "tickets"),
    "drops": ("prizes", "drop_rate"),
    "manual": (),
    "vip_comp": (),
}
WEIGHT_MAX = Decimal(10)
MAX_TERM_MINOR = 10**13  # any money term; × a multiple ≤ 200 stays inside 64 bits
DEFAULT_HOUSE_EDGE_PCT = {"slots": Decimal(4), "table": Decimal("1.5"), "live": Decimal(2),
                          "sports": Decimal(5), "other": Decimal(3)}
DEFAULT_PERIOD_HOURS = 168


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits without trailing zeros (``100``, never ``1E+2``)."""
    return format(value.normalize(), "f")


def _factors(name: str, raw: dict[str, Decimal] | None, top: Decimal) -> dict[str, str] | None:
    if raw is None:
        return None
    out = {}
    for category, value in raw.items():
        if not value.is_finite() or not 0 <= value <= top:
            raise ValidationFailed(f"{name}.{category}: between 0 and {top}",
                                   field=f"{name}.{category}")
        out[category] = decimal_text(value)
    return out


def build(kind: str, currency: Asset, fields: dict[str, Any],
          base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored terms of a template of type ``kind`` from request ``fields`` (a PATCH
    passes the current terms as ``base``). Raises 400 naming the field."""
    terms: dict[str, Any] = dict(base or {})
    for name in MONEY:
        if name in fields:
            value = fields[name]
            terms[name] = None if value is None else bounded(value, currency, name)
    for name in PLAIN:
        if name in fields:
            value = fields[name]
            terms[name] = decimal_text(value) if isinstance(value, Decimal) else value
    if "game_weights" in fields:
        terms["game_weights"] = _factors("game_weights", fields["game_weights"], WEIGHT_MAX)
    if "house_edge_pct" in fields:
        terms["house_edge_pct"] = _factors("house_edge_pct", fields["house_edge_pct"],
                                           Decimal(100))
    if "prizes" in fields:
        prizes = fields["prizes"]
        terms["prizes"] = None if prizes is None else [
            {"amount": bounded(p["amount"], currency, f"prizes.{i}.amount"),
             "count": p["count"]} for i, p in enumerate(prizes)]
    for name in REQUIRED[kind]:
        if terms.get(name) is None:
            raise ValidationFailed(f"{name}: required for a {kind} bonus", field=name)
    terms.setdefault("wagering_multiple", None)
    terms.setdefault("wagering_basis", None)
    if terms.get("wagering_basis") == "bonus_plus_deposit" and kind not in (
            "deposit_match", "reload"):
        raise ValidationFailed("wagering_basis: bonus_plus_deposit needs a deposit bonus",
                               field="wagering_basis")
    return terms


def bounded(value: Any, currency: Asset, field: str, *, allow_zero: bool = False) -> int:
    """A money value in minor units, positive (or zero when allowed), at most
    ``MAX_TERM_MINOR``; 400 naming ``field`` otherwise."""
    minor = to_minor(value, currency, field=field, allow_zero=allow_zero)
    if minor > MAX_TERM_MINOR:
        raise ValidationFailed(f"{field}: at most {from_minor(MAX_TERM_MINOR, currency)}",
                               field=field)
    return minor


def money(terms: dict[str, Any], name: str) -> int | None:
    value = terms.get(name)
    return None if value is None else int(value)


def weight(terms: dict[str, Any], category: str) -> Decimal:
    """How much of a stake in ``category`` counts: 1 when the template sets no weights,
    0 for a category its weights leave out."""
    weights = terms.get("game_weights")
    if weights is None:
        return Decimal(1)
    value = weights.get(category)
    return Decimal(0) if value is None else Decimal(str(value))


def shown(terms: dict[str, Any], currency: Asset) -> dict[str, Any]:
    """Terms as the API speaks them (money in the currency's unit)."""
    out: dict[str, Any] = {}
    for name, value in terms.items():
        if name in MONEY:
            out[name] = None if value is None else from_minor(int(value), currency)
        elif name in ("amount_pct", "wagering_multiple", "drop_rate") and value is not None:
            out[name] = Decimal(str(value))
        elif name in ("game_weights", "house_edge_pct") and value is not None:
            out[name] = {k: Decimal(str(v)) for k, v in value.items()}
        elif name == "prizes" and value is not None:
            out[name] = [{"amount": from_minor(int(p["amount"]), currency), "count": p["count"]}
                         for p in value]
        else:
            out[name] = value
    return out


def wagering_required(terms: dict[str, Any], value: int, deposit: int | None) -> int:
    """The turnover a bonus of ``value`` needs: ``wagering_multiple`` × the bonus, plus the
    deposit when the basis is ``bonus_plus_deposit``."""
    multiple = Decimal(str(terms.get("wagering_multiple") or 0))
    with_deposit = terms.get("wagering_basis") == "bonus_plus_deposit"
    return int(multiple * (value + ((deposit or 0) if with_deposit else 0)))
