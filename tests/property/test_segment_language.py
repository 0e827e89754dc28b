"""The segment language as properties.

1. Whatever text arrives (valid expressions, hostile strings and identifiers, junk), it
   either compiles to SQL made only of the compiler's fixed fragments and bound
   placeholders, or is refused with a 400 that names a position inside the text.
2. On a generated population, the compiled SQL (the query a run uses) and a pure-Python
   evaluator of the same expression select the same players.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.property.support import examples_database
from wowsino.crm import repository
from wowsino.crm.compiler import FRAGMENTS, JOINS, PLACEHOLDER, compile_condition
from wowsino.crm.grammar import (
    FIELDS,
    STATUSES,
    AllOf,
    AnyOf,
    Compare,
    Const,
    HasTag,
    Member,
    Moment,
    Node,
    Not,
    parse,
)
from wowsino.kernel.db import create_engine
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import ASSETS
from wowsino.kernel.realm import Mode, Realm

NOW = datetime(2026, 6, 15, 12, 30, tzinfo=UTC)
HOSTILE = ["'; DROP TABLE players; --", "\" OR 1=1 --", "p.id", "$1", ":p0", "\\", "%s",
           "')) OR true --", "NULL", "😀", "a'b", 'a"b', "\x00", "pg_sleep(10)"]
COUNTRIES = ["MT", "DE", "GB", "XX"]
TAGS = ["vip", "new", "hr"]
CURRENCIES = ["USD", "JPY", "BTC"]


# --- 1. anything in, fragments or a 400 out ------------------------------------------------

def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
identifier = st.one_of(st.sampled_from([*FIELDS, "min_vip_level"]),
                       st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
                       st.sampled_from(HOSTILE))
operator = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "==", "<>", "LIKE"])
literal = st.one_of(hostile_text.map(_quote), st.integers(-10**30, 10**30).map(str),
                    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
                    st.sampled_from(["true", "false", "now()", "now() - 7d", "now() + 3h",
                                     "now() - 999999d", "'2026-01-01'", "NULL"]),
                    hostile_text)
atom = st.one_of(
    st.tuples(identifier, operator, literal).map(" ".join),
    st.tuples(identifier, st.lists(literal, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} IN ({', '.join(t[1])})"),
    hostile_text.map(lambda s: f"has_tag({_quote(s)})"),
    hostile_text,
)
expression_text = st.recursive(
    atom, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR", "and", "Or", ";", "--"]), inner).map(
            " ".join),
        inner.map(lambda s: f"NOT ({s})"), inner.map(lambda s: f"({s}"),
    ), max_leaves=6)


def _tree_strings(node: Node) -> list[str]:
    if isinstance(node, HasTag):
        return [node.tag]
    if isinstance(node, Member):
        return [v for v in node.values if isinstance(v, str)]
    if isinstance(node, Compare):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, Not):
        return _tree_strings(node.item)
    if isinstance(node, AllOf | AnyOf):
        return [s for i in node.items for s in _tree_strings(i)]
    return []


def _strings(values: Any) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out += [v for v in value if isinstance(v, str)]
    return out


# --- 2. the SQL and the Python evaluator agree ---------------------------------------------

@dataclass
class Member_:
    """One generated player and every value the language can read."""

    id: uuid.UUID
    currency: str
    status: str
    country: str | None
    kyc_level: int
    created_at: datetime
    tags: list[str]
    vip: tuple[int, int] | None  # (level, xp)
    stats: dict[str, Any] | None  # the player_stats row of the player's currency
    daily: list[tuple[int, str, str, int, int]] = field(default_factory=list)
    # (days ago, currency, rail, wagered, won)
    winz: int | None = None

    def value(self, name: str) -> Any:
        scale = ASSETS[self.currency].scale
        stats = self.stats or {}
        if name == "vip_level":
            return None if self.vip is None else self.vip[0]
        if name == "xp":
            return 0 if self.vip is None else self.vip[1]
        if name in ("total_deposited", "total_wagered"):
            return Decimal(stats.get(name, 0)).scaleb(-scale)
        if name in ("net_loss_7d", "net_loss_30d"):
            days = 7 if name == "net_loss_7d" else 30
            return Decimal(sum(w - n for ago, cur, rail, w, n in self.daily
                               if cur == self.currency and rail == "real" and ago < days)
                           ).scaleb(-scale)
        return {"country_code": self.country, "status": self.status,
                "kyc_level": self.kyc_level, "registered_at": self.created_at,
                "last_deposit_at": stats.get("last_deposit_at"),
                "last_wager_at": stats.get("last_wager_at"),
                "deposit_count": stats.get("deposit_count", 0),
                "winz_balance": self.winz or 0}[name]


OPS = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def evaluate(node: Node, who: Member_, at: datetime) -> bool:
    """The language's meaning, in Python: a comparison with a missing value is false."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Not):
        return not evaluate(node.item, who, at)
    if isinstance(node, AllOf):
        return all(evaluate(i, who, at) for i in node.items)
    if isinstance(node, AnyOf):
        return any(evaluate(i, who, at) for i in node.items)
    if isinstance(node, HasTag):
        return node.tag in who.tags
    value = who.value(node.field)
    if isinstance(node, Member):
        found = value is not None and any(value == v for v in node.values)
        return not found if node.negated else found
    assert isinstance(node, Compare)
    target = node.value.resolve(at) if isinstance(node.value, Moment) else node.value
    return value is not None and bool(OPS[node.op](value, target))


moments = st.tuples(st.sampled_from(["-", "+"]), st.integers(0, 60),
                    st.sampled_from(["m", "h", "d", "w"])).map(
    lambda t: f"now() {t[0]} {t[1]}{t[2]}" if t[1] else "now()")


def _number(kind: str) -> st.SearchStrategy[str]:
    if kind == "money":
        return st.decimals(min_value=-50, max_value=500, places=2).map(str)
    return st.integers(-2, 12).map(str)


def comparison(name: str) -> st.SearchStrategy[str]:
    spec = FIELDS[name]
    ops = ["=", "!="] if spec.kind == "text" else ["=", "!=", "<", "<=", ">", ">="]
    if spec.kind == "text":
        values = st.sampled_from(STATUSES if name == "status" else COUNTRIES).map(_quote)
    elif spec.kind == "instant":
        values = st.one_of(moments, st.sampled_from(["'2026-06-01'", "'2026-06-15T00:00:00Z'"]))
    else:
        values = _number(spec.kind)
    cased = st.sampled_from([name, name.upper()])
    single = st.tuples(cased, st.sampled_from(ops), values).map(" ".join)
    if spec.kind == "instant":
        return single
    listed = st.tuples(cased, st.sampled_from(["IN", "NOT IN", "in"]),
                       st.lists(values, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} {t[1]} ({', '.join(t[2])})")
    return st.one_of(single, listed)


valid_atom = st.one_of(
    st.sampled_from(sorted(FIELDS)).flatmap(comparison),
    st.integers(0, 5).map(lambda n: f"min_vip_level = {n}"),
    st.sampled_from([*TAGS, "nobody"]).map(lambda t: f"has_tag({_quote(t)})"),
    st.sampled_from(["true", "false"]),
)
valid_expression = st.recursive(valid_atom, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["AND", "OR", "and", "or"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"),
    inner.map(lambda s: f"NOT {s}")), max_leaves=5)

instant = st.integers(-60 * 24 * 40, 0).map(lambda m: NOW + timedelta(minutes=m))
population_member = st.builds(
    Member_, id=st.uuids(version=4), currency=st.sampled_from(CURRENCIES),
    status=st.sampled_from(["active", "active", "suspended", "closed"]),
    country=st.one_of(st.none(), st.sampled_from(COUNTRIES[:3])),
    kyc_level=st.integers(0, 3), created_at=instant,
    tags=st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
    vip=st.one_of(st.none(), st.tuples(st.integers(0, 5), st.integers(0, 5000))),
    stats=st.one_of(st.none(), st.fixed_dictionaries({
        "deposit_count": st.integers(0, 6), "total_deposited": st.integers(0, 60000),
        "total_wagered": st.integers(0, 60000),
        "last_deposit_at": st.one_of(st.none(), instant),
        "last_wager_at": st.one_of(st.none(), instant)})),
    daily=st.lists(st.tuples(st.integers(0, 35), st.sampled_from(CURRENCIES),
                             st.sampled_from(["real", "bonus"]), st.integers(0, 9000),
                             st.integers(0, 9000)), max_size=4,
                   unique_by=lambda d: (d[0], d[1], d[2])),
    winz=st.one_of(st.none(), st.integers(0, 20)),
)



# valid expressions that carry hostile strings where values go
hostile_atom = st.one_of(
    hostile_text.map(lambda h: f"has_tag({_quote(h)})"),
    hostile_text.map(lambda h: f"country_code = {_quote(h)}"),
    st.lists(hostile_text, min_size=1, max_size=3).map(
        lambda hs: f"country_code NOT IN ({', '.join(map(_quote, hs))})"),
)
hostile_valid = st.recursive(st.one_of(hostile_atom, valid_atom), lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({' '.join(t)})"),
    inner.map(lambda s: f"NOT {s}")), max_leaves=5)


@settings(max_examples=int(os.environ.get("WOWSINO_SEGMENT_EXAMPLES", "400")), deadline=None,
          derandomize=True, database=None)
@given(st.one_of(expression_text, hostile_valid))
def test_any_text_compiles_to_fixed_fragments_and_placeholders_or_is_refused(
    expression: str,
) -> None:
    try:
        node = parse(expression)
    except ValidationFailed as refused:
        details = refused.details
        assert details["field"] == "expression"
        assert 0 <= details["position"] <= max(len(expression), 1)
        assert isinstance(details["expected"], list)
        return
    compiled = compile_condition(node, NOW)
    for piece in compiled.pieces:
        assert piece in FRAGMENTS or PLACEHOLDER.fullmatch(piece), piece
    assert sorted(p[1:] for p in compiled.pieces if PLACEHOLDER.fullmatch(p)) == sorted(
        compiled.params)
    assert compiled.where == " ".join(compiled.pieces)
    allowed_joins = {j for joins in JOINS.values() for j in joins}
    assert set(compiled.joins) <= allowed_joins
    # every string the text carried is a bound value, exactly as given
    assert sorted(_strings(compiled.params.values())) == sorted(_tree_strings(node))



async def _insert(conn: Any, tenant: uuid.UUID, brand: uuid.UUID,
                  members: list[Member_]) -> None:
    await conn.execute(text(
        "INSERT INTO tenants (id, slug, name, service_mode, created_at) VALUES "
        "(:t, :slug, 'Property', 'plug_in', now())"), {"t": tenant, "slug": f"p{tenant.hex}"})
    await conn.execute(text("INSERT INTO brands (tenant_id, id, slug, name, created_at) VALUES "
                            "(:t, :b, 'main', 'Main', now())"), {"t": tenant, "b": brand})
    base = {"t": tenant, "m": "test"}
    for i, who in enumerate(members):
        row = {**base, "p": who.id, "b": brand, "u": f"u{i}", "cur": who.currency,
               "c": who.country, "s": who.status, "k": who.kyc_level, "at": who.created_at,
               "tags": who.tags}
        await conn.execute(text(
            "INSERT INTO players (tenant_id, mode, id, brand_id, username, email, country_code, "
            "currency, tags, status, kyc_level, created_at, updated_at) VALUES (:t, :m, :p, :b, "
            ":u, :u, :c, :cur, :tags, :s, :k, :at, :at)"), row)
        if who.vip is not None:
            await conn.execute(text(
                "INSERT INTO vip_players VALUES (:t, :m, :p, :level, :xp, now())"),
                {**row, "level": who.vip[0], "xp": who.vip[1]})
        if who.stats is not None:
            for currency, stats in ((who.currency, who.stats), ("EUR", {
                    "deposit_count": 99, "total_deposited": 10**9, "total_wagered": 10**9,
                    "last_deposit_at": NOW, "last_wager_at": NOW})):
                await conn.execute(text(
                    "INSERT INTO player_stats (tenant_id, mode, player_id, currency, "
                    "deposit_count, total_deposited, last_deposit_at, total_wagered, "
                    "last_wager_at) VALUES (:t, :m, :p, :cur, :dc, :td, :ld, :tw, :lw)"),
                    {**row, "cur": currency, "dc": stats["deposit_count"],
                     "td": stats["total_deposited"], "ld": stats["last_deposit_at"],
                     "tw": stats["total_wagered"], "lw": stats["last_wager_at"]})
        for ago, currency, rail, wagered, won in who.daily:
            await conn.execute(text(
                "INSERT INTO player_stats_daily (tenant_id, mode, player_id, day, currency, rail, "
                "game_category, bets, wagered, won) VALUES (:t, :m, :p, :day, :cur, :rail, "
                "'slots', 1, :w, :n)"),
                {**row, "day": NOW.date() - timedelta(days=ago), "cur": currency, "rail": rail,
                 "w": wagered, "n": won})
        if who.winz is not None:
            await conn.execute(text(
                "INSERT INTO ledger_accounts (tenant_id, mode, owner_type, owner_key, rail, "
                "asset, balance) VALUES (:t, :m, 'player', :key, 'winz', 'WINZ', :bal)"),
                {**row, "key": str(who.id), "bal": who.winz})


async def _agree(url: str, members: list[Member_], expressions: list[str]) -> None:
    engine = create_engine(url, pool_size=1)
    tenant, brand = uuid.uuid4(), uuid.uuid4()
    realm = Realm(tenant, Mode.TEST)
    try:
        async with engine.begin() as conn:
            await _insert(conn, tenant, brand, members)
        async with engine.connect() as conn:
            for expression in expressions:
                node = parse(expression)
                compiled = compile_condition(node, NOW)
                chosen = await repository.matching_ids(conn, realm, brand, compiled, NOW,
                                                       after=uuid.UUID(int=0), limit=1000)
                expected = sorted(w.id for w in members if evaluate(node, w, NOW))
                assert chosen == expected, (expression, compiled.where, compiled.params)
    finally:
        await engine.dispose()


@pytest.mark.integration
def test_the_compiled_sql_and_the_python_evaluator_select_the_same_players(
    server_url: str, template_db: str,
) -> None:
    @settings(max_examples=int(os.environ.get("WOWSINO_SEGMENT_POPULATIONS", "25")),
              deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(population_member, min_size=1, max_size=25, unique_by=lambda m: m.id),
           st.lists(valid_expression, min_size=1, max_size=8))
    def check(url: str, members: list[Member_], expressions: list[str]) -> None:
        asyncio.run(_agree(url, members, expressions))

    with examples_database(server_url, template_db, "wz_segment_prop") as url:
        check(url)


def test_the_evaluator_reads_a_missing_value_as_no_match() -> None:
    who = Member_(uuid.uuid4(), "USD", "active", None, 0, NOW, [], None, None)
    assert not evaluate(parse("vip_level >= 0"), who, NOW)
    assert evaluate(parse("NOT vip_level >= 0"), who, NOW)
    assert evaluate(parse("country_code NOT IN ('MT')"), who, NOW)
    assert not evaluate(parse("country_code != 'MT'"), who, NOW)
    assert who.value("xp") == 0 and who.value("deposit_count") == 0
    assert date(2026, 6, 15) == NOW.date()
