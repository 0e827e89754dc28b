"""How segments, campaigns and runs are shown by the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from wowsino.crm import actions
from wowsino.crm.grammar import FIELDS, fields_used, parse
from wowsino.kernel.clock import iso
from wowsino.kernel.money import ASSETS, from_minor

Row = dict[str, Any]


def segment(row: Row) -> Row:
    return {"id": str(row["id"]), "name": row["name"], "expression": row["expression"],
            "fields": sorted(fields_used(parse(row["expression"]))),
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


def value(field: str, raw: Any, currency: str) -> Any:
    """A field's value in a preview sample, as the expression compares it."""
    if raw is None:
        return None
    kind = FIELDS[field].kind
    if kind == "instant":
        return iso(raw)
    if kind == "money":
        return Decimal(raw).quantize(Decimal(1).scaleb(-ASSETS[currency].scale))
    if kind == "integer":
        return int(raw)
    return raw


def campaign(row: Row) -> Row:
    asset = row["asset"]
    return {
        "id": str(row["id"]), "name": row["name"], "segment_id": str(row["segment_id"]),
        "action": actions.view(row["action"]), "asset": asset, "schedule": row["schedule"],
        "budget": actions.money(row["budget"], asset),
        "max_per_player_per_month": row["max_per_player_per_month"],
        "status": row["status"], "paused_reason": row["paused_reason"],
        "next_run_at": row["next_run_at"], "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def costs(minor: int, asset: str | None) -> dict[str, Decimal]:
    """``{asset: amount}`` (empty for an action without a cost)."""
    return {} if asset is None else {asset: from_minor(minor, ASSETS[asset])}


def run(row: Row) -> Row:
    skipped = {k: int(v) for k, v in sorted((row["skipped"] or {}).items())}
    return {
        "id": str(row["id"]), "campaign_id": str(row["campaign_id"]), "status": row["status"],
        "trigger": row["trigger"], "scheduled_for": row["scheduled_for"],
        "segment_at": row["segment_at"], "processed": int(row["processed"]),
        "granted": int(row["granted"]), "skipped": skipped,
        "total_cost": costs(int(row["cost"]), row["asset"]),
        "budget": actions.money(row["budget"], row["asset"]),
        "stopped_by": row["stopped_by"], "started_at": row["started_at"],
        "updated_at": row["updated_at"], "finished_at": row["finished_at"],
    }
