"""Prize tables shared by every drawing engine: ``[{segment_label, weight, asset, amount}]``.

A table is stored in canonical form (amounts as decimal strings) so its hash,
``prize_table_hash``, is stable and recomputable from the published table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from wowsino.kernel import fairness
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import ASSETS, from_minor, to_minor

REWARD_ASSETS = ("WINZ", "XP")
MAX_SEGMENTS = 100


def parse_table(raw: Any, *, field: str = "prize_table") -> list[dict[str, Any]]:
    """Validate a prize table; returns it canonical. Zero amounts are "no prize" segments."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SEGMENTS:
        raise ValidationFailed(f"{field}: 1 to {MAX_SEGMENTS} segments", field=field)
    table = []
    for i, seg in enumerate(raw):
        where = f"{field}[{i}]"
        if not isinstance(seg, dict):
            raise ValidationFailed(f"{where}: must be an object", field=where)
        label = seg.get("segment_label")
        if not isinstance(label, str) or not 1 <= len(label) <= 64:
            raise ValidationFailed(f"{where}.segment_label: 1–64 characters",
                                   field=f"{where}.segment_label")
        weight = seg.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 10**9:
            raise ValidationFailed(f"{where}.weight: an integer from 0 to 1e9",
                                   field=f"{where}.weight")
        code = seg.get("asset")
        if code not in REWARD_ASSETS:
            raise ValidationFailed(f"{where}.asset: one of {', '.join(REWARD_ASSETS)}",
                                   field=f"{where}.asset")
        amount = seg.get("amount", 0)
        minor = 0 if amount in (0, Decimal(0)) else to_minor(amount, ASSETS[code],
                                                             field=f"{where}.amount")
        table.append({"segment_label": label, "weight": weight, "asset": code,
                      "amount": str(from_minor(minor, ASSETS[code]))})
    total = sum(s["weight"] for s in table)
    if total <= 0:
        raise ValidationFailed(f"{field}: the weights must sum to more than zero", field=field)
    if total > fairness.U32:  # the range of one draw (uniform_int)
        raise ValidationFailed(f"{field}: the weights must sum to at most 2^32 "
                               f"({fairness.U32}), not {total}", field=field)
    return table


def table_hash(table: list[dict[str, Any]]) -> str:
    return fairness.prize_table_hash(table)


def weights(table: list[dict[str, Any]]) -> list[int]:
    return [int(s["weight"]) for s in table]


def minor_amount(segment: dict[str, Any]) -> int:
    a = ASSETS[segment["asset"]]
    value = Decimal(segment["amount"])
    return 0 if value == 0 else to_minor(value, a)


def public_reward(segment: dict[str, Any]) -> dict[str, Any]:
    """How a won segment is shown: ``{asset, amount, segment_label}``, amount as a number."""
    return {"asset": segment["asset"], "amount": Decimal(segment["amount"]),
            "segment_label": segment["segment_label"]}


def public_table(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**s, "amount": Decimal(s["amount"])} for s in table]


ODDS_PLACES = Decimal("0.01")  # expected values and RTP are shown to two decimals


def odds(table: list[dict[str, Any]], cost_winz: Decimal) -> dict[str, Any]:
    """What a table pays on average for one draw costing ``cost_winz`` WINZ.

    ``segments``: each prize with its ``probability`` (weight / total weight, exact);
    ``expected``: the mean prize per asset (Σ probability × amount, to two decimals);
    ``rtp``: the expected WINZ returned per WINZ paid, in percent (None for a free draw);
    ``cost``: the cost per draw. ``table`` is canonical (``parse_table``).
    """
    total = sum(int(s["weight"]) for s in table)
    expected: dict[str, Decimal] = {code: Decimal(0) for code in REWARD_ASSETS}
    segments = []
    for s in table:
        probability = Decimal(int(s["weight"])) / Decimal(total)
        segments.append({**public_table([s])[0], "probability": probability})
        expected[s["asset"]] += Decimal(int(s["weight"])) * Decimal(s["amount"])
    mean = {code: (v / total).quantize(ODDS_PLACES) for code, v in expected.items()}
    rtp = None
    if cost_winz > 0:
        rtp = (expected["WINZ"] * 100 / total / cost_winz).quantize(ODDS_PLACES)
    return {"segments": segments, "expected": mean, "rtp": rtp, "cost": cost_winz}
