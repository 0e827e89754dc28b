"""``wowsino fairness verify`` says match (exit 0) or mismatch (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from wowsino.cli import app
from wowsino.kernel import fairness

SEED = bytes(range(32)).hex()
runner = CliRunner()


def test_matching_weighted_draw() -> None:
    index = fairness.draw_weighted(SEED, "me", [5, 1, 1])
    result = runner.invoke(app, ["fairness", "verify", "--server-seed", SEED, "--client-seed",
                                 "me", "--server-seed-hash", fairness.hash_seed(SEED),
                                 "--weights", "5,1,1", "--expect-index", str(index)])
    assert result.exit_code == 0, result.output
    assert "match" in result.output


def test_wrong_commitment_is_a_mismatch() -> None:
    result = runner.invoke(app, ["fairness", "verify", "--server-seed", SEED, "--client-seed",
                                 "me", "--server-seed-hash", "00" * 32, "--weights", "1,1"])
    assert result.exit_code == 1
    assert "mismatch" in result.output


def test_raffle_ticket_and_prize_table(tmp_path: Path) -> None:
    winner = fairness.draw_uniform(SEED, "tickets-hash", 77)
    ok = runner.invoke(app, ["fairness", "verify", "--server-seed", SEED, "--client-seed",
                             "tickets-hash", "--tickets", "77", "--expect-index", str(winner)])
    bad = runner.invoke(app, ["fairness", "verify", "--server-seed", SEED, "--client-seed",
                              "tickets-hash", "--tickets", "77", "--expect-index",
                              str((winner + 1) % 77)])
    assert (ok.exit_code, bad.exit_code) == (0, 1)
    table = [{"segment_label": "a", "weight": 1, "asset": "WINZ", "amount": "5"},
             {"segment_label": "b", "weight": 3, "asset": "XP", "amount": "10"}]
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    label = table[fairness.draw_weighted(SEED, "s", [1, 3])]["segment_label"]
    result = runner.invoke(app, ["fairness", "verify", "--server-seed", SEED, "--client-seed",
                                 "s", "--prize-table", str(path), "--prize-table-hash",
                                 fairness.prize_table_hash(table), "--expect-segment", label])
    assert result.exit_code == 0, result.output


def test_malformed_seed_is_reported() -> None:
    result = runner.invoke(app, ["fairness", "verify", "--server-seed", "zz", "--client-seed",
                                 "x", "--weights", "1"])
    assert result.exit_code == 2
