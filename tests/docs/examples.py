"""Reading the ``curl`` examples of the documentation, and comparing a shown response with
a real one. ``test_curl_examples`` describes the conventions; this module implements them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHELL = {"sh", "bash", "shell", "console", ""}
RESPONSE = {"json", "http", "text", ""}
FENCE = re.compile(r"^(\s*)(```+)\s*([\w-]*)\s*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*(not-run|capture|vary|continues)\s*:\s*(.*?)\s*-->\s*$")
CURL = re.compile(r"^\s*curl\s", re.MULTILINE)
ELLIPSIS = "…"


class DocError(Exception):
    """A documentation example that breaks the conventions."""


@dataclass
class Shown:
    """The response a document shows under an example."""

    status: int | None
    headers: dict[str, str]
    body: Any  # a pattern (see ``parse_shown_json``), or None when no body is shown
    line: int


@dataclass
class Example:
    """One ``curl`` example: its command, what the document shows, and its directives."""

    path: Path
    line: int
    command: str
    shown: Shown | None = None
    skip: str | None = None
    captures: list[tuple[str, str]] = field(default_factory=list)
    vary: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class Document:
    path: Path
    examples: list[Example]
    continues: list[Path]


@dataclass
class _Block:
    lang: str
    text: str
    line: int


def _items(path: Path) -> list[_Block | tuple[str, str, int] | int]:
    """Fenced blocks, directives ``(name, value, line)`` and prose lines (their number)."""
    items: list[_Block | tuple[str, str, int] | int] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence:
            indent, ticks, lang = fence.groups()
            body: list[str] = []
            start = i + 1
            i += 1
            while i < len(lines) and lines[i].strip() != ticks:
                line = lines[i]
                body.append(line[len(indent):] if line.startswith(indent) else line)
                i += 1
            items.append(_Block(lang.lower(), "\n".join(body), start))
        elif (directive := DIRECTIVE.match(lines[i])) is not None:
            items.append((directive.group(1), directive.group(2), i + 1))
        elif lines[i].strip():
            items.append(i + 1)
        i += 1
    return items


def read_document(path: Path) -> Document:
    """Every ``curl`` example of ``path`` in document order, with its shown response."""
    examples: list[Example] = []
    continues: list[Path] = []
    skip: str | None = None
    last: Example | None = None
    awaiting_response = False
    for item in _items(path):
        if isinstance(item, int):  # prose ends the search for a response and a pending skip
            awaiting_response, skip = False, None
            continue
        if isinstance(item, tuple):
            name, value, line = item
            if name == "not-run":
                skip = value or "not runnable"
            elif name == "continues":
                continues.append((path.parent / value).resolve())
            elif last is None:
                raise DocError(f"{path}:{line}: <!-- {name}: --> before any example")
            elif name == "capture":
                var, _, json_path = value.partition("=")
                if not re.fullmatch(r"[A-Z][A-Z0-9_]*", var.strip()) or not json_path.strip():
                    raise DocError(f"{path}:{line}: capture takes NAME=json.path")
                last.captures.append((var.strip(), json_path.strip()))
            else:
                last.vary |= {k.strip() for k in value.split(",") if k.strip()}
            continue
        if item.lang in SHELL and CURL.search(item.text):
            if len(CURL.findall(item.text)) > 1 and skip is None:
                raise DocError(f"{path}:{item.line}: one curl per example block")
            last = Example(path, item.line, item.text, skip=skip)
            examples.append(last)
            skip, awaiting_response = None, True
            continue
        if awaiting_response and last is not None and item.lang in RESPONSE:
            text = item.text.strip()
            if text.startswith(("HTTP/", "{", "[")):
                try:
                    last.shown = parse_shown(text, item.line)
                except DocError as exc:
                    raise DocError(f"{path}: {exc}") from None
        awaiting_response, skip = False, None
    return Document(path, examples, continues)


def parse_shown(text: str, line: int) -> Shown:
    """``HTTP/1.1 <status>`` with header lines (``…`` for the ones left out), then the body;
    or just a body."""
    status: int | None = None
    headers: dict[str, str] = {}
    if text.startswith("HTTP/"):
        head, *rest = text.splitlines()
        status = int(head.split()[1])
        body_lines: list[str] = []
        for n, raw in enumerate(rest):
            stripped = raw.strip()
            if stripped.startswith(("{", "[")):
                body_lines = rest[n:]
                break
            if stripped and stripped != ELLIPSIS:
                name, _, value = stripped.partition(":")
                headers[name.strip().lower()] = value.strip()
        text = "\n".join(body_lines)
    body = parse_shown_json(text, line) if text.strip() else None
    return Shown(status, headers, body, line)


# -- JSON with ellipses --------------------------------------------------------------

@dataclass
class Obj:
    """A shown object; ``open`` when ``…`` stands for members left out."""

    items: dict[str, Any]
    open: bool


@dataclass
class Arr:
    """A shown array; ``open`` when ``…`` stands for elements left out."""

    items: list[Any]
    open: bool


_scanstring: Any = getattr(json.decoder, "scanstring")  # noqa: B009 -- untyped in typeshed
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class _Parser:
    def __init__(self, text: str, line: int) -> None:
        self.text, self.pos, self.line = text, 0, line

    def fail(self, what: str) -> DocError:
        row = self.line + self.text.count("\n", 0, self.pos)
        return DocError(f"line {row}: {what} in the shown response near "
                        f"{self.text[self.pos:self.pos + 30]!r}")

    def peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def value(self) -> Any:
        char = self.peek()
        if char == "{":
            return self.container("}", obj=True)
        if char == "[":
            return self.container("]", obj=False)
        if char == '"':
            text: str
            text, self.pos = _scanstring(self.text, self.pos + 1)
            return text
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            return Decimal(number.group())
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return literal
        raise self.fail("unreadable value")

    def container(self, close: str, *, obj: bool) -> Obj | Arr:
        self.pos += 1
        members: dict[str, Any] = {}
        elements: list[Any] = []
        is_open = False
        while True:
            char = self.peek()
            if char == close:
                self.pos += 1
                return Obj(members, is_open) if obj else Arr(elements, is_open)
            if char == ELLIPSIS:
                self.pos += 1
                is_open = True
            elif obj:
                key = self.value()
                if not isinstance(key, str):
                    raise self.fail("an object key must be a string")
                self.take(":")
                members[key] = self.value()
            else:
                elements.append(self.value())
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != close:
                raise self.fail(f"expected ',' or {close!r}")


def parse_shown_json(text: str, line: int = 0) -> Any:
    """Parse a shown body: JSON in which ``…`` may stand for left-out members or elements."""
    parser = _Parser(text, line)
    value = parser.value()
    if parser.peek():
        raise parser.fail("text after the response")
    return value


# -- comparing -----------------------------------------------------------------------

_VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # ids
    r"|^\d{4}-\d{2}-\d{2}T"  # times
    r"|^[0-9a-f]{16,}$"  # seeds and hashes
    r"|^(req|wsk_live|wsk_test|whsec|auto)_"  # request ids, keys, secrets, generated keys
    r"|^[A-Za-z0-9_-]{24,}$"  # cursors
    r"|" + ELLIPSIS)


def deterministic(shown: str) -> bool:
    """Whether a shown string must be equal in the real response (ids, times, seeds,
    hashes, keys and cursors differ from run to run; so does any text trimmed with …)."""
    return _VARYING.search(shown) is None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def compare(shown: Any, actual: Any, vary: set[str], where: str = "$",
            varying: bool = False) -> list[str]:
    """Where ``actual`` differs from the ``shown`` pattern: every shown key present, with
    the same JSON type; arrays of the same length (at least, when shown with ``…``);
    values equal where deterministic and not under a key listed in ``vary``."""
    if isinstance(shown, Obj):
        if not isinstance(actual, dict):
            return [f"{where}: shown an object, got {_json_type(actual)}"]
        problems: list[str] = []
        for key, value in shown.items.items():
            if key not in actual:
                problems.append(f"{where}.{key}: shown but missing")
                continue
            problems += compare(value, actual[key], vary, f"{where}.{key}",
                                varying or key in vary)
        return problems
    if isinstance(shown, Arr):
        if not isinstance(actual, list):
            return [f"{where}: shown an array, got {_json_type(actual)}"]
        if len(actual) < len(shown.items) or (not shown.open and len(actual) != len(shown.items)):
            return [f"{where}: shown {len(shown.items)}{'+' if shown.open else ''} "
                    f"elements, got {len(actual)}"]
        return [p for n, (s, a) in enumerate(zip(shown.items, actual, strict=False))
                for p in compare(s, a, vary, f"{where}[{n}]", varying)]
    if shown is None and varying:
        return []
    if _json_type(shown) != _json_type(actual):
        return [f"{where}: shown {_json_type(shown)} {shown!r}, got {_json_type(actual)} "
                f"{actual!r}"]
    if varying or (isinstance(shown, str) and not deterministic(shown)):
        return []
    if isinstance(shown, Decimal) and Decimal(str(actual)) == shown:
        return []
    return [] if shown == actual else [f"{where}: shown {shown!r}, got {actual!r}"]


def is_error(shown: Any) -> bool:
    """A shown body in the error envelope."""
    return isinstance(shown, Obj) and {"error", "code"} <= set(shown.items)
