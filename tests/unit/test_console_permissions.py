"""The console's permission table: every permission names known holders, and the copy
in docs/console.md is the table itself (so the two cannot drift)."""

from __future__ import annotations

from pathlib import Path

from wowsino.console.permissions import HOLDERS, PERMISSIONS, TABLE, holds, markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "console.md"


def test_the_documented_table_is_the_permission_table() -> None:
    text = DOC.read_text()
    start, end = "<!-- permissions:start -->\n", "\n<!-- permissions:end -->"
    assert start in text and end in text
    documented = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert documented == markdown_table(), (
        "docs/console.md's permission table differs from console/permissions.py: paste "
        "the output of `.venv/bin/python -m wowsino.console.permissions`")


def test_every_permission_has_holders_and_the_analyst_only_reads() -> None:
    assert len(PERMISSIONS) == len(TABLE)
    for permission in TABLE:
        assert permission.holders and permission.holders <= set(HOLDERS), permission.name
    writes = {"tenants.create", "tenants.suspend", "tenants.invite_owner", "brands.manage",
              "keys.manage", "webhooks.redeliver", "operators.manage",
              "console_policy.manage"}
    assert writes <= PERMISSIONS.keys()
    assert not [name for name in writes if holds("analyst", name)]


def test_a_brand_limited_operator_holds_no_permission_about_every_brand() -> None:
    assert holds("owner", "keys.manage")
    assert not holds("owner", "keys.manage", brand_scoped=True)
    assert holds("support", "players.view", brand_scoped=True)
