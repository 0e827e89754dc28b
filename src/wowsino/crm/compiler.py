"""Segment expressions to SQL, with bound parameters only.

The compiler writes SQL from the fixed fragments below and nothing else: every value
of the expression (numbers, strings, tags, times) is a bound parameter ``:pN``, and a
field name selects a fragment from ``COLUMNS``, never text of its own. A test checks
that every compiled expression is made of ``FRAGMENTS`` and placeholders alone.

Semantics (the tests' Python evaluator follows them): a comparison with a missing value
(no VIP standing, no deposit, no country) is false, and ``NOT`` turns false to true, so
expressions are two-valued. Amounts compare in the unit of the player's currency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from wowsino.crm.grammar import (
    FIELDS,
    AllOf,
    AnyOf,
    Compare,
    Const,
    HasTag,
    Member,
    Moment,
    Node,
    Not,
    fields_used,
)

# field → (the SQL expression of its current value, the join it needs)
COLUMNS: dict[str, tuple[str, str | None]] = {
    "vip_level": ("v.level", "vip"),
    "xp": ("coalesce(v.xp, 0)", "vip"),
    "country_code": ("p.country_code", None),
    "status": ("p.status", None),
    "kyc_level": ("p.kyc_level", None),
    "registered_at": ("p.created_at", None),
    "last_deposit_at": ("s.last_deposit_at", "stats"),
    "last_wager_at": ("s.last_wager_at", "stats"),
    "deposit_count": ("coalesce(s.deposit_count, 0)", "stats"),
    "total_deposited": ("(coalesce(s.total_deposited, 0) / (10::numeric ^ cur.scale))", "stats"),
    "total_wagered": ("(coalesce(s.total_wagered, 0) / (10::numeric ^ cur.scale))", "stats"),
    "net_loss_7d": ("(coalesce(n.loss_7d, 0) / (10::numeric ^ cur.scale))", "losses"),
    "net_loss_30d": ("(coalesce(n.loss_30d, 0) / (10::numeric ^ cur.scale))", "losses"),
    "winz_balance": ("coalesce(w.balance, 0)", "winz"),
}
# Backtests (crm.backtest) read a past day: what the daily stats can rebuild.
AS_OF_COLUMNS: dict[str, tuple[str, str | None]] = {
    "total_wagered": ("((coalesce(s.total_wagered, 0) - coalesce(later.wagered, 0)) "
                      "/ (10::numeric ^ cur.scale))", "later"),
}
AS_OF_FIELDS = frozenset({"net_loss_7d", "net_loss_30d", "total_wagered", "registered_at"})

_STATS = ("LEFT JOIN player_stats s ON s.tenant_id = p.tenant_id AND s.mode = p.mode "
          "AND s.player_id = p.id AND s.currency = p.currency")
_CURRENCY = "JOIN assets cur ON cur.code = p.currency"
JOINS: dict[str, tuple[str, ...]] = {
    "vip": ("LEFT JOIN vip_players v ON v.tenant_id = p.tenant_id AND v.mode = p.mode "
            "AND v.player_id = p.id",),
    "stats": (_STATS, _CURRENCY),
    "winz": ("LEFT JOIN ledger_accounts w ON w.tenant_id = p.tenant_id AND w.mode = p.mode "
             "AND w.owner_type = 'player' AND w.owner_key = p.id::text AND w.rail = 'winz' "
             "AND w.asset = 'WINZ'",),
    # the realm's real-money days of the last 30 (and 7) UTC days, summed per player once
    "losses": ("LEFT JOIN (SELECT d.player_id, d.currency, "
               "sum(d.wagered - d.won) FILTER (WHERE d.day >= :day_7) AS loss_7d, "
               "sum(d.wagered - d.won) AS loss_30d FROM player_stats_daily d "
               "WHERE d.tenant_id = :tenant_id AND d.mode = :mode AND d.rail = 'real' "
               "AND d.day >= :day_30 AND d.day <= :day_0 GROUP BY d.player_id, d.currency) n "
               "ON n.player_id = p.id AND n.currency = p.currency", _CURRENCY),
    "later": (_STATS, _CURRENCY,
              "LEFT JOIN (SELECT d.player_id, d.currency, sum(d.wagered) AS wagered "
              "FROM player_stats_daily d WHERE d.tenant_id = :tenant_id AND d.mode = :mode "
              "AND d.day > :day_0 GROUP BY d.player_id, d.currency) later "
              "ON later.player_id = p.id AND later.currency = p.currency"),
}
OPERATORS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
CASTS = {"integer": "numeric", "money": "numeric", "text": "text", "instant": "timestamptz"}

# Every piece of text a compiled condition is made of (besides the placeholders).
FRAGMENTS: frozenset[str] = frozenset({
    *(sql for sql, _ in COLUMNS.values()), *(sql for sql, _ in AS_OF_COLUMNS.values()),
    *OPERATORS.values(), *(f"AS {t})" for t in CASTS.values()),
    *(f"AS {t}[])" for t in ("numeric", "text")), "CAST(",
    "(", ")", "AND", "OR", "NOT", "true", "false", "coalesce(", ", false)", "= ANY(",
    "p.tags @>",
})
PLACEHOLDER = re.compile(r":p[0-9]+")


@dataclass
class Compiled:
    """A condition over ``players p`` and the joins it needs."""

    pieces: list[str]  # fragments and placeholders, joined by spaces
    params: dict[str, Any]
    joins: list[str] = field(default_factory=list)
    fields: frozenset[str] = frozenset()

    @property
    def where(self) -> str:
        return " ".join(self.pieces)

    @property
    def from_joins(self) -> str:
        return " ".join(self.joins)


class _Writer:
    def __init__(self, at: datetime, columns: dict[str, tuple[str, str | None]]) -> None:
        self.at = at
        self.columns = columns
        self.pieces: list[str] = []
        self.params: dict[str, Any] = {}

    def bind(self, value: Any, cast: str) -> None:
        """``CAST(:pN AS cast)``: the value bound, never written."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        self.pieces += ["CAST(", f":{name}", f"AS {cast})"]

    def write(self, node: Node) -> None:
        if isinstance(node, Const):
            self.pieces.append("true" if node.value else "false")
        elif isinstance(node, Not):
            self.pieces += ["NOT", "("]
            self.write(node.item)
            self.pieces.append(")")
        elif isinstance(node, AllOf | AnyOf):
            joiner = "AND" if isinstance(node, AllOf) else "OR"
            self.pieces.append("(")
            for i, item in enumerate(node.items):
                if i:
                    self.pieces.append(joiner)
                self.write(item)
            self.pieces.append(")")
        elif isinstance(node, HasTag):
            self.pieces += ["(", "p.tags @>"]
            self.bind([node.tag], "text[]")
            self.pieces.append(")")
        elif isinstance(node, Compare):
            self.compare(node)
        else:
            self.member(node)

    def compare(self, node: Compare) -> None:
        spec = FIELDS[node.field]
        value = node.value.resolve(self.at) if isinstance(node.value, Moment) else node.value
        self.pieces += ["coalesce(", self.columns[node.field][0], OPERATORS[node.op]] \
            if spec.nullable else ["(", self.columns[node.field][0], OPERATORS[node.op]]
        self.bind(value, CASTS[spec.kind])
        self.pieces.append(", false)" if spec.nullable else ")")

    def member(self, node: Member) -> None:
        spec = FIELDS[node.field]
        if node.negated:
            self.pieces += ["NOT", "("]
        self.pieces += ["coalesce(", self.columns[node.field][0], "= ANY("]
        self.bind(list(node.values), f"{CASTS[spec.kind]}[]")
        self.pieces += [")", ", false)"]
        if node.negated:
            self.pieces.append(")")


def compile_condition(node: Node, at: datetime, *, as_of: bool = False) -> Compiled:
    """``node`` as a condition on ``players p`` at ``at``; with ``as_of``, the fields the
    daily stats can rebuild are read as they were on ``at``'s UTC day."""
    columns = {**COLUMNS, **AS_OF_COLUMNS} if as_of else COLUMNS
    writer = _Writer(at, columns)
    writer.write(node)
    used = fields_used(node)
    joins: list[str] = []
    for name in sorted(used):
        needed = columns[name][1]
        for join in JOINS[needed] if needed else ():
            if join not in joins:
                joins.append(join)
    return Compiled(writer.pieces, writer.params, joins, used)


def day_params(at: datetime) -> dict[str, Any]:
    """The UTC days ``losses`` and ``later`` read, for an expression evaluated at ``at``."""
    today = at.astimezone(UTC).date()
    return {"day_0": today, "day_7": today - timedelta(days=6), "day_30": today - timedelta(days=29)}
