"""The event catalogue: one registry, the document generated from it, and every type the
code emits registered (checked here by reading the source; the integration test
``test_events_catalogue`` checks the events real flows write)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from wowsino.kernel import events, outbox
from wowsino.webhooks import service as webhooks

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "wowsino"
DOC = ROOT / "docs" / "events.md"


def emitted_types() -> dict[str, list[str]]:
    """Every ``emit(..., type="…")`` or ``emit_all(..., type="…")`` call in the source:
    type → where; a non-literal type is reported as ``<dynamic>`` so it cannot escape the
    check (the outbox's own ``emit``, which passes its type on to ``emit_all``, aside)."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "kernel" / "outbox.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", None)
            if name not in ("emit", "emit_all"):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            kind = next((k.value for k in node.keywords if k.arg == "type"), None)
            literal = kind.value if isinstance(kind, ast.Constant) else None
            found.setdefault(literal if isinstance(literal, str) else "<dynamic>",
                             []).append(where)
    return found


def test_events_md_is_generated_from_the_registry() -> None:
    assert DOC.read_text() == events.markdown(), (
        "docs/events.md is stale: python -m wowsino.kernel.events > docs/events.md")


def test_every_emitted_type_is_registered_and_every_registered_type_is_emitted() -> None:
    emitted = emitted_types()
    assert "<dynamic>" not in emitted, f"emit with a non-literal type: {emitted['<dynamic>']}"
    registered = {name for name, t in events.CATALOGUE.items() if not t.reserved}
    # pings are written straight to the delivery log, to one subscription
    sent = set(emitted) | {"webhook.ping"}
    assert "'webhook.ping'" in (SRC / "webhooks" / "service.py").read_text()
    assert sent - registered == set(), f"emitted but not registered: {sent - registered}"
    assert registered - sent == set(), f"registered as emitted but never emitted: " \
                                       f"{registered - sent}"
    assert len(emitted) >= 6


def test_the_catalogue_is_what_subscriptions_accept() -> None:
    assert frozenset(events.CATALOGUE) == webhooks.EVENT_TYPES
    assert webhooks.check_events(["jackpot.dropped", "bonus.*", "*"]) == [
        "*", "bonus.*", "jackpot.dropped"]


def test_every_emitted_type_documents_its_fields() -> None:
    for event_type in events.CATALOGUE.values():
        if event_type.reserved:
            assert event_type.fields == ()
            continue
        assert event_type.fields, event_type.name
        assert len(event_type.field_names) == len(event_type.fields), event_type.name
        assert all(f.description.endswith(".") for f in event_type.fields), event_type.name


def test_a_field_type_must_be_a_json_type() -> None:
    with pytest.raises(ValueError, match="unknown JSON type"):
        events.Field("amount", "decimal", "An amount.")
    with pytest.raises(ValueError, match="unknown JSON type"):
        events.Field("nothing", "null", "Never set.")


@pytest.mark.parametrize("event_type", ["player.deleted", "payout.reversed"])
async def test_emit_refuses_an_unregistered_or_reserved_type_before_writing(
        event_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a reserved type: in the catalogue, not emitted yet
    monkeypatch.setitem(events.CATALOGUE, "payout.reversed",
                        events.EventType("payout.reversed", "Reserved.", reserved=True))
    class NoDatabase:
        async def execute(self, *args: Any) -> None:
            raise AssertionError("nothing may be written")

    with pytest.raises(events.UnregisteredEvent, match=event_type):
        await outbox.emit(NoDatabase(), realm=None, type=event_type,  # type: ignore[arg-type]
                          data={}, at=None)  # type: ignore[arg-type]
