"""The compliance gate for promotions: per-brand jurisdiction profiles and the promo
linter. ``decide`` answers whether a bonus may be granted to a player; ``lint`` lists
every brand whose profile a template's terms break. Engines ask the gate; the gate
never asks engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import profiles, repository
from wowsino.kernel import audit, wire
from wowsino.kernel.errors import NotFound
from wowsino.kernel.jsonio import loads
from wowsino.kernel.realm import Actor, Realm


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str | None = None
    rule: str | None = None
    profile: str | None = None
    version: int | None = None
    detail: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # more of the refusal's details
    by_profile: bool = True  # a rule of the jurisdiction (else the player's own state)

    def refusal(self) -> dict[str, Any]:
        """The 403 body of a refused decision."""
        error = (f"refused by the {self.profile} profile, rule {self.rule}: {self.detail}"
                 if self.by_profile else str(self.detail))
        return {"error": error, "code": self.code,
                "details": {"rule": self.rule, "profile": self.profile,
                            "profile_version": self.version, "detail": self.detail,
                            **self.facts}}


def _view(row: dict[str, Any]) -> dict[str, Any]:
    profile = row["profile"] or "default"
    return {"brand": row["slug"], "profile": profile, "overrides": row["overrides"],
            "version": row["version"] or 0,
            "rules": profiles.effective(profile, row["overrides"]),
            "updated_at": row["updated_at"]}


async def _brand(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    found = await repository.brand(conn, realm, slug)
    if found is None:
        raise NotFound(f"no brand {slug!r}", code="NOT_FOUND")
    return found


async def show(conn: AsyncConnection, realm: Realm, slug: str) -> dict[str, Any]:
    """A brand's profile (``default`` until one is set); 404 for an unknown brand."""
    found = await _brand(conn, realm, slug)
    [row] = await repository.profiles(conn, realm, [found["id"]])
    return {"jurisdiction": _view(row)}


async def put(conn: AsyncConnection, *, realm: Realm, slug: str, profile: str,
              overrides: dict[str, Any], actor: Actor, at: datetime) -> dict[str, Any]:
    """Set a brand's base profile and overrides; audited."""
    found = await _brand(conn, realm, slug)
    [before] = await repository.profiles(conn, realm, [found["id"]])
    await repository.put(conn, realm, found["id"], profile, overrides, at)
    after = await show(conn, realm, slug)
    await audit.record(conn, realm=realm, actor=actor, action="jurisdiction.updated",
                       target_type="brand", target_id=str(found["id"]),
                       before=_view(before)["rules"], after=after["jurisdiction"]["rules"],
                       at=at)
    return after


def age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# bonus types given in return for placing bets (a profile may refuse them)
ON_A_BET = ("drops", "rakeback")


def terms_violation(rules: dict[str, Any], terms: dict[str, Any],
                    kind: str | None = None) -> tuple[str, str] | None:
    """The ``(rule, detail)`` a bonus of type ``kind`` with ``terms`` breaks, or None."""
    if not rules["bonuses_allowed"]:
        return "bonuses_allowed", "bonuses are not allowed for this brand"
    if kind in ON_A_BET and not rules["bonus_on_bet_allowed"]:
        return "bonus_on_bet_allowed", f"a {kind} bonus (given for placing bets) is not allowed"
    cap = rules["max_wagering_multiple"]
    multiple = terms.get("wagering_multiple")
    if cap is not None and multiple is not None and Decimal(str(multiple)) > cap:
        return ("max_wagering_multiple",
                f"wagering_multiple {Decimal(str(multiple)).normalize()} exceeds {cap}")
    return None


async def lint(conn: AsyncConnection, realm: Realm, terms: dict[str, Any],
               kind: str | None = None) -> list[dict[str, Any]]:
    """Every brand of the realm whose profile the terms break: ``[{brand, rule, detail}]``."""
    found = []
    for row in await repository.profiles(conn, realm):
        rules = profiles.effective(row["profile"] or "default", row["overrides"])
        broken = terms_violation(rules, terms, kind)
        if broken is not None:
            found.append({"brand": row["slug"], "profile": row["profile"] or "default",
                          "rule": broken[0], "detail": broken[1]})
    return found


@dataclass(frozen=True)
class BrandRules:
    """A brand's effective jurisdiction rules, with the profile and version they come from."""

    profile: str
    version: int
    rules: dict[str, Any]


_RULES = ("SELECT p.profile AS jp_profile, p.overrides AS jp_overrides, p.version AS jp_version "
          "FROM brands b LEFT JOIN jurisdiction_profiles p ON p.tenant_id = b.tenant_id "
          "AND p.brand_id = b.id AND p.mode = :mode "
          "WHERE b.tenant_id = :tenant_id AND b.id = :brand_id")


def rules_lookup(realm: Realm, brand_id: UUID) -> wire.Lookup:
    """The read ``brand_rules`` makes, to be sent ahead of a write."""
    return wire.Lookup(_RULES, {**realm.params, "brand_id": brand_id})


def rules_of(row: dict[str, Any]) -> BrandRules:
    """The rules in a row carrying ``jp_profile``, ``jp_overrides``, ``jp_version``."""
    profile = row["jp_profile"] or "default"
    overrides = row["jp_overrides"] or {}
    if isinstance(overrides, str):
        overrides = loads(overrides)
    return BrandRules(profile, row["jp_version"] or 0, profiles.effective(profile, overrides))


async def brand_rules(conn: AsyncConnection, realm: Realm, brand_id: UUID) -> BrandRules:
    """A brand's rules in force (one read, or none when the write prefetched it)."""
    row = await wire.first(conn, rules_lookup(realm, brand_id))
    if row is None:
        raise NotFound("no such brand", code="NOT_FOUND")
    return rules_of(row)


def bonus_violation(rules: dict[str, Any], player: dict[str, Any], terms: dict[str, Any],
                    at: datetime, kind: str | None = None) -> tuple[str, str] | None:
    """The ``(rule, detail)`` a bonus with ``terms`` for ``player`` breaks, or None: the
    compliance gate's decision on the grant, status and holds left to the caller."""
    from wowsino.compliance import gate

    decision = gate.evaluate(gate.Facts(
        gate.Action.BONUS_GRANT, {**player, "status": "active", "rg": {}},
        BrandRules("", 0, rules), at, terms={**terms, "type": kind}))
    if decision.allowed:
        return None
    assert decision.rule is not None
    assert decision.detail is not None
    return decision.rule, decision.detail


async def decide_bonus(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], terms: dict[str, Any],
    actor: Actor, at: datetime, target_id: str, kind: str | None = None,
) -> Decision:
    """May this bonus be granted to this player? The compliance gate's decision
    (``compliance/gate.py``); a refusal is recorded in the audit log with its rule and
    profile version."""
    from wowsino.compliance import gate

    found = await brand_rules(conn, realm, UUID(str(player["brand_id"])))
    facts = gate.Facts(gate.Action.BONUS_GRANT, player, found, at,
                       terms={**terms, "type": kind})
    return await gate.decide(conn, facts, realm=realm, actor=actor, target_type="bonus_grant",
                             target_id=target_id)


def rule_sql(rule: str, brand_id: str) -> tuple[str, dict[str, Any]]:
    """A SQL boolean saying whether the yes/no ``rule`` holds for the brand whose id is the
    SQL expression ``brand_id`` (its profile in the statement's ``:tenant_id``/``:mode``,
    the brand's override first), and its parameters: for an engine that folds the
    jurisdiction into the statement doing its work."""
    if rule not in profiles.RULES or not isinstance(profiles.BASE["default"][rule], bool):
        raise ValueError(f"not a yes/no rule: {rule}")
    sql = (f"coalesce((SELECT coalesce((jp.overrides ->> '{rule}')::boolean, "
           f"jp.profile = ANY (CAST(:{rule}_profiles AS text[]))) FROM jurisdiction_profiles jp "
           f"WHERE jp.tenant_id = :tenant_id AND jp.mode = :mode AND jp.brand_id = {brand_id}), "
           f":{rule}_default)")
    return sql, {f"{rule}_profiles": profiles.allowing(rule),
                 f"{rule}_default": profiles.BASE["default"][rule]}


async def brands_refusing(conn: AsyncConnection, realm: Realm, rule: str) -> list[str]:
    """The slugs of the realm's brands whose profile refuses the yes/no ``rule``."""
    return [row["slug"] for row in await repository.profiles(conn, realm)
            if not profiles.effective(row["profile"] or "default", row["overrides"])[rule]]

