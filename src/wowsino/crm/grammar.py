"""Segment expressions: parsed by the grammar in ``segment.lark`` (lark, LALR), checked
field by field and type by type, and returned as a small tree that the compiler turns
into SQL (``crm.compiler``) and the tests evaluate in Python.

Every refusal is a ``400 VALIDATION_ERROR`` with ``details: {field: "expression",
position, expected}``: ``position`` is the 0-based offset of the offending character
in the expression, ``expected`` what would have been accepted there (and ``name`` the
field, for an unknown field or a type mismatch).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, Literal

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from wowsino.kernel.errors import ValidationFailed

MAX_LENGTH = 4000  # characters in an expression
MAX_DEPTH = 40  # nested NOT / parentheses / AND-OR levels
MAX_ITEMS = 500  # values in one IN list
MAX_NUMBER_DIGITS = 24
MAX_DURATION = 100_000  # units of now() ± <n><unit>

Kind = Literal["integer", "money", "text", "instant"]
Operator = Literal["=", "!=", "<", "<=", ">", ">="]
STATUSES = ("active", "suspended", "self_excluded", "fraud_hold", "aml_hold",
            "withdrawal_hold", "affordability_review", "closed")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    meaning: str
    nullable: bool = False  # a player may have no value (no VIP row, never deposited)
    choices: tuple[str, ...] = ()  # the values a text field can take, when fixed


FIELDS: dict[str, FieldSpec] = {f.name: f for f in (
    FieldSpec("vip_level", "integer", "VIP level; none for a player without VIP standing",
              nullable=True),
    FieldSpec("xp", "integer", "VIP experience points (0 without VIP standing)"),
    FieldSpec("country_code", "text", "ISO alpha-2 country; none when not given",
              nullable=True),
    FieldSpec("status", "text", "the player's status", choices=STATUSES),
    FieldSpec("kyc_level", "integer", "KYC level, 0 to 3"),
    FieldSpec("registered_at", "instant", "when the player was created"),
    FieldSpec("last_deposit_at", "instant",
              "the last deposit in the player's currency; none if never", nullable=True),
    FieldSpec("last_wager_at", "instant",
              "the last wager in the player's currency; none if never", nullable=True),
    FieldSpec("deposit_count", "integer", "deposits in the player's currency"),
    FieldSpec("total_deposited", "money", "deposited, in the player's currency"),
    FieldSpec("total_wagered", "money", "wagered (real and bonus), in the player's currency"),
    FieldSpec("net_loss_7d", "money",
              "real money wagered minus won over the last 7 UTC days, today included"),
    FieldSpec("net_loss_30d", "money",
              "real money wagered minus won over the last 30 UTC days, today included"),
    FieldSpec("winz_balance", "integer", "the WINZ balance"),
)}
MIN_VIP_LEVEL = "min_vip_level"  # min_vip_level = n means vip_level >= n
FIELD_NAMES = (*FIELDS, MIN_VIP_LEVEL)
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
         "w": timedelta(weeks=1)}
ORDERING = ("<", "<=", ">", ">=")


# --- the tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """``now() ± offset``; ``at`` fixes now when the expression is evaluated."""

    offset: timedelta

    def resolve(self, at: datetime) -> datetime:
        return at + self.offset


Value = Decimal | str | datetime | Moment  # a comparison's right-hand side


@dataclass(frozen=True)
class Compare:
    field: str
    op: Operator
    value: Value


@dataclass(frozen=True)
class Member:
    field: str
    values: tuple[Decimal | str, ...]
    negated: bool


@dataclass(frozen=True)
class HasTag:
    tag: str


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class AllOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Node, ...]


Node = Compare | Member | HasTag | Const | Not | AllOf | AnyOf


def fields_used(node: Node) -> frozenset[str]:
    """The fields an expression reads."""
    if isinstance(node, Compare | Member):
        return frozenset({node.field})
    if isinstance(node, Not):
        return fields_used(node.item)
    if isinstance(node, AllOf | AnyOf):
        return frozenset().union(*(fields_used(i) for i in node.items))
    return frozenset()


# --- parsing -------------------------------------------------------------------------------

READABLE = {
    "OR": "OR", "AND": "AND", "NOT": "NOT", "IN": "IN", "TRUE": "true", "FALSE": "false",
    "NOW": "now()", "HAS_TAG": "has_tag(", "FIELD": "a field", "OPERATOR": "an operator",
    "NUMBER": "a number", "STRING": "a quoted string", "SIGN": "+ or -",
    "DURATION": "a duration such as 7d", "LPAR": "(", "RPAR": ")", "COMMA": ",",
    "$END": "the end of the expression",
}


@functools.cache
def _parser() -> Lark:
    source = resources.files("wowsino.crm").joinpath("segment.lark").read_text()
    return Lark(source, parser="lalr", lexer="contextual", propagate_positions=True)


def refuse(message: str, position: int, expected: list[str], **extra: Any) -> ValidationFailed:
    return ValidationFailed(f"expression: {message} at position {position}", field="expression",
                            position=position, expected=expected, **extra)


def _expected(names: set[str] | frozenset[str]) -> list[str]:
    return sorted({READABLE.get(n, n) for n in names})


def parse(expression: str) -> Node:
    """The checked tree of ``expression``; raises 400 with the position of the first error."""
    if not expression.strip():
        raise refuse("empty expression", 0, ["a comparison"])
    if len(expression) > MAX_LENGTH:
        raise refuse(f"longer than {MAX_LENGTH} characters", MAX_LENGTH, ["a shorter expression"])
    try:
        tree = _parser().parse(expression)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, expression) from None
    return _Checker(expression).node(tree, 0)


def _syntax_error(exc: UnexpectedInput, expression: str) -> ValidationFailed:
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return refuse("unexpected end", len(expression), _expected(exc.accepts or exc.expected))
    if isinstance(exc, UnexpectedToken):
        return refuse(f"unexpected {exc.token.value!r}", int(exc.token.start_pos or 0),
                      _expected(exc.accepts or exc.expected))
    if isinstance(exc, UnexpectedCharacters):
        at = int(exc.pos_in_stream or 0)
        return refuse(f"unexpected character {expression[at]!r}", at,
                      _expected(exc.allowed or set()))
    if isinstance(exc, UnexpectedEOF):
        return refuse("unexpected end", len(expression), _expected(set(exc.expected)))
    return refuse("cannot parse", 0, [])  # pragma: no cover - lark raises one of the above


def _kind_of(value: Value) -> str:
    if isinstance(value, Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a time"


class _Checker:
    """Walks the parse tree: fields known, values of the field's type, sizes bounded."""

    def __init__(self, text: str) -> None:
        self.text = text

    def node(self, tree: Tree[Token] | Token, depth: int) -> Node:
        at = _start(tree)
        if depth > MAX_DEPTH:
            raise refuse(f"nested deeper than {MAX_DEPTH} levels", at, ["a flatter expression"])
        if isinstance(tree, Token):  # a bare literal where a condition was expected
            raise refuse(f"{tree.value!r} is not a condition", at, ["a comparison"])
        kind = tree.data
        parts = [c for c in tree.children if not (isinstance(c, Token) and c.type in (
            "OR", "AND", "NOT", "LPAR", "RPAR"))]
        if kind == "disjunction":
            return AnyOf(tuple(self.node(c, depth + 1) for c in parts))
        if kind == "conjunction":
            return AllOf(tuple(self.node(c, depth + 1) for c in parts))
        if kind == "negated":
            return Not(self.node(parts[0], depth + 1))
        if kind == "group":
            return self.node(parts[0], depth + 1)
        if kind == "constant":
            return Const(str(tree.children[0]).lower() == "true")
        if kind == "tag_test":
            token = tree.children[2]
            assert isinstance(token, Token)
            return HasTag(_string(token))
        if kind == "comparison":
            return self.comparison(tree)
        if kind == "membership":
            return self.membership(tree)
        raise refuse(f"{kind} is not a condition", at, ["a comparison"])

    def field(self, token: Token) -> str:
        name = str(token.value).lower()
        if name not in FIELD_NAMES:
            raise refuse(f"unknown field {token.value!r}", int(token.start_pos or 0),
                         list(FIELD_NAMES), name=str(token.value))
        return name

    def comparison(self, tree: Tree[Token]) -> Node:
        field_token, op_token, value_tree = tree.children
        assert isinstance(field_token, Token)
        assert isinstance(op_token, Token)
        name = self.field(field_token)
        op: Operator = op_token.value  # type: ignore[assignment]  # the grammar's OPERATOR
        if name == MIN_VIP_LEVEL:
            if op != "=":
                raise refuse("min_vip_level takes =", int(op_token.start_pos or 0), ["="],
                             name=name)
            value = self.value(value_tree, FIELDS["vip_level"], name)
            return Compare("vip_level", ">=", value)
        spec = FIELDS[name]
        if spec.kind == "text" and op in ORDERING:
            raise refuse(f"{name} is text: it compares with = != or IN",
                         int(op_token.start_pos or 0), ["=", "!=", "IN"], name=name)
        return Compare(name, op, self.value(value_tree, spec, name))

    def membership(self, tree: Tree[Token]) -> Node:
        field_token, negation = tree.children[0], tree.children[1]
        assert isinstance(field_token, Token)
        name = self.field(field_token)
        if name == MIN_VIP_LEVEL:
            raise refuse("min_vip_level takes =", int(field_token.end_pos or 0), ["="], name=name)
        spec = FIELDS[name]
        if spec.kind == "instant":
            raise refuse(f"{name} is a time: it compares with = != < <= > >=",
                         int(field_token.end_pos or 0), ["an operator"], name=name)
        values = [c for c in tree.children[3:] if not (isinstance(c, Token) and c.type in (
            "LPAR", "RPAR", "COMMA"))]
        if len(values) > MAX_ITEMS:
            raise refuse(f"more than {MAX_ITEMS} values in IN", _start(values[MAX_ITEMS]),
                         [")"], name=name)
        checked = []
        for value in values:
            item = self.value(value, spec, name)
            assert isinstance(item, Decimal | str)
            checked.append(item)
        return Member(name, tuple(checked), negation is not None)

    def value(self, tree: Tree[Token] | Token, spec: FieldSpec, name: str) -> Value:
        """The literal ``tree`` as a value of ``spec``'s kind, or 400 naming the field."""
        at = _start(tree)
        found: Value
        if isinstance(tree, Tree):  # now() ± duration
            found = _moment(tree)
        elif tree.type == "NUMBER":
            found = _number(tree)
        elif tree.type == "STRING":
            found = _string(tree)
        else:  # true / false: no field is boolean
            raise refuse(f"{name} is {_kind_name(spec)}, not a boolean", at,
                         [_literal_of(spec)], name=name)
        if spec.kind in ("integer", "money") and not isinstance(found, Decimal):
            raise refuse(f"{name} is {_kind_name(spec)}, not {_kind_of(found)}", at,
                         [_literal_of(spec)], name=name)
        if spec.kind == "text" and not isinstance(found, str):
            raise refuse(f"{name} is {_kind_name(spec)}, not {_kind_of(found)}", at,
                         [_literal_of(spec)], name=name)
        if spec.kind == "text" and spec.choices and found not in spec.choices:
            raise refuse(f"{name} is never {found!r}", at, [repr(c) for c in spec.choices],
                         name=name)
        if spec.kind == "instant":
            if isinstance(found, Decimal):
                raise refuse(f"{name} is a time, not a number", at, [_literal_of(spec)],
                             name=name)
            if isinstance(found, str):
                found = _instant(found, at, name)
        return found


def _start(node: Tree[Token] | Token) -> int:
    if isinstance(node, Token):
        return int(node.start_pos or 0)
    meta = node.meta
    return int(getattr(meta, "start_pos", 0) or 0)


def _kind_name(spec: FieldSpec) -> str:
    return {"integer": "a number", "money": "an amount", "text": "text",
            "instant": "a time"}[spec.kind]


def _literal_of(spec: FieldSpec) -> str:
    return {"integer": "a number", "money": "a number", "text": "a quoted string",
            "instant": "now() ± a duration or a quoted ISO-8601 time"}[spec.kind]


def _number(token: Token) -> Decimal:
    digits = str(token.value).lstrip("-").replace(".", "")
    if len(digits) > MAX_NUMBER_DIGITS:
        raise refuse(f"a number of more than {MAX_NUMBER_DIGITS} digits",
                     int(token.start_pos or 0), ["a smaller number"])
    try:
        return Decimal(str(token.value))
    except InvalidOperation:  # pragma: no cover - the grammar only lets digits through
        raise refuse("not a number", int(token.start_pos or 0), ["a number"]) from None


def _string(token: Token) -> str:
    raw = str(token.value)
    quote = raw[0]
    return raw[1:-1].replace(quote * 2, quote)


def _moment(tree: Tree[Token]) -> Moment:
    children = [c for c in tree.children if isinstance(c, Token) and c.type in ("SIGN",
                                                                                "DURATION")]
    if not children:
        return Moment(timedelta(0))
    sign, duration = children
    count = int(str(duration.value)[:-1])
    if count > MAX_DURATION:
        raise refuse(f"a duration of more than {MAX_DURATION} units",
                     int(duration.start_pos or 0), ["a shorter duration"])
    step = UNITS[str(duration.value)[-1].lower()] * count
    return Moment(step if sign.value == "+" else -step)


def _instant(text: str, at: int, name: str) -> datetime:
    """A quoted time: ``2026-01-31`` (midnight UTC) or ISO-8601 with its offset."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("no offset")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise refuse(f"{text!r} is not a time", at,
                     ["'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SSZ'"], name=name) from None


def check_at(node: Node, at: datetime) -> None:
    """Refuse (400) an expression whose ``now() ± n`` leaves the calendar at ``at``."""
    for moment in _moments(node):
        try:
            moment.resolve(at)
        except OverflowError:
            raise refuse("now() ± this duration leaves the calendar", 0,
                         ["a shorter duration"]) from None


def _moments(node: Node) -> list[Moment]:
    if isinstance(node, Compare):
        return [node.value] if isinstance(node.value, Moment) else []
    if isinstance(node, Not):
        return _moments(node.item)
    if isinstance(node, AllOf | AnyOf):
        return [m for i in node.items for m in _moments(i)]
    return []
