"""Statements combined to save round trips: parameters keep their meaning."""

from __future__ import annotations

from typing import Any

import pytest

from wowsino.kernel import wire


def test_named_parameters_become_positional_once_each_and_casts_are_left_alone() -> None:
    compiled = wire.compile_sql(
        "SELECT date_trunc('month', CAST(:at AS timestamptz))::date, :pid, :at, '10:30'")
    assert compiled.positional == (
        "SELECT date_trunc('month', CAST($1 AS timestamptz))::date, $2, $1, '10:30'")
    assert compiled.names == ("at", "pid")
    assert compiled.args({"pid": 7, "at": "now", "unused": 1}) == ["now", 7]


def test_writes_are_combined_into_one_statement_with_their_own_parameters() -> None:
    sql = wire._combined((
        "INSERT INTO audit_log (a) VALUES (:a)",
        "INSERT INTO player_activity (a) VALUES (:a)",
        "UPDATE idempotency_keys SET s = :s WHERE k = :a",
    ))
    assert sql == ("WITH w0 AS (INSERT INTO audit_log (a) VALUES (:w0_a)), "
                   "w1 AS (INSERT INTO player_activity (a) VALUES (:w1_a)) "
                   "UPDATE idempotency_keys SET s = :w2_s WHERE k = :w2_a")


def test_only_plain_writes_can_be_deferred() -> None:
    assert wire._target("  insert into Audit_Log (a) VALUES (1)") == "audit_log"
    with pytest.raises(ValueError, match="not a plain"):
        wire._target("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")


class _Record:
    """What asyncpg returns: keys() keeps every column name, duplicates included."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def keys(self) -> list[str]:
        return [k for k, _ in self.pairs]

    def values(self) -> list[Any]:
        return [v for _, v in self.pairs]


def test_a_claim_row_splits_into_each_lookups_answer() -> None:
    found = wire.Lookup("SELECT id, name FROM lootboxes WHERE id = :id", {"id": 1})
    missing = wire.Lookup("SELECT id, username FROM players WHERE username = :ref",
                          {"ref": "bob"})
    sql, params = wire.with_lookups("INSERT INTO k VALUES (:key) RETURNING 1 AS claimed",
                                    [found, missing])
    assert ":l0_id" in sql and ":l1_ref" in sql and ":key" in sql
    assert params == {"l0_id": 1, "l1_ref": "bob"}
    row = _Record([("claimed", "0"), ("_found", True), ("id", 1), ("name", "Box"),
                   ("_found", None), ("id", None), ("username", None)])
    head, answers = wire.split(row, 1, [found, missing])
    assert head == ("0",)
    assert answers == {found.key: {"id": 1, "name": "Box"}, missing.key: None}


def test_an_array_two_writes_share_is_sent_once() -> None:
    """Two writes made from one batch's arrays (the same list under the same name) take
    one parameter for it; anything else keeps its own."""
    players, at = [1, 2, 3], "now"
    writes = [
        ("INSERT INTO player_stats (p, a) SELECT unnest(:players), :at", {"players": players,
                                                                          "at": at}),
        ("INSERT INTO player_stats_daily (p, a) SELECT unnest(:players), :at",
         {"players": players, "at": at}),
        ("INSERT INTO audit_log (p) SELECT unnest(:players)", {"players": list(players)}),
    ]
    shared = wire._shared(writes)
    assert shared == (((1, "players"), 0),)
    sql = wire._combined(tuple(sql for sql, _ in writes), shared)
    assert sql == ("WITH w0 AS (INSERT INTO player_stats (p, a) SELECT unnest(:w0_players), "
                   ":w0_at), w1 AS (INSERT INTO player_stats_daily (p, a) SELECT "
                   "unnest(:w0_players), :w1_at) INSERT INTO audit_log (p) SELECT "
                   "unnest(:w2_players)")
    assert wire.compile_sql(sql).names == ("w0_players", "w0_at", "w1_at", "w2_players")


def test_a_batchs_instants_are_sent_once_each_with_every_value_s_position() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    noon = datetime(2026, 3, 29, 12, tzinfo=UTC)
    later = noon + timedelta(microseconds=1)
    same_in_malta = noon.astimezone(timezone(timedelta(hours=2)))
    sent = wire.instants("at", [noon, later, noon, same_in_malta, later])
    stamps, positions = sent["at"], sent["at_ix"]
    assert stamps == [noon, later]
    assert positions == [1, 2, 1, 1, 2]
    assert [stamps[i - 1] for i in positions] == [noon, later, noon, same_in_malta, later]
    assert wire.instants("at", []) == {"at": [], "at_ix": []}
    assert wire.instant("at", "w.at_ix") == "(CAST(:at AS timestamptz[]))[w.at_ix]"
