"""docs/crm.md shows the segment grammar as the parser reads it, and its field table
names every field the language knows."""

from __future__ import annotations

from pathlib import Path

from wowsino.crm.grammar import FIELD_NAMES

ROOT = Path(__file__).resolve().parents[2]


def test_the_crm_guide_shows_the_grammar_file_verbatim() -> None:
    grammar = (ROOT / "src" / "wowsino" / "crm" / "segment.lark").read_text()
    assert f"```lark\n{grammar}```" in (ROOT / "docs" / "crm.md").read_text()


def test_the_crm_guide_lists_every_field() -> None:
    guide = (ROOT / "docs" / "crm.md").read_text()
    for name in FIELD_NAMES:
        assert f"| `{name}` |" in guide, name
