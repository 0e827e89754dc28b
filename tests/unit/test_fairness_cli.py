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


def _raffle_with_skips() -> tuple[str, int, list[int], int]:
    """A client seed whose draw over 12 tickets, with tickets 3–9 held by a blocked player,
    skipped at least one ticket (read the stream on, as the raffle draw does)."""
    blocked = range(3, 10)
    for n in range(200):
        stream = fairness.ByteStream(SEED, f"list-{n}")
        skipped = []
        while (ticket := fairness.uniform_int(stream, 12)) in blocked:
            skipped.append(ticket)
        if skipped:
            return f"list-{n}", 12, skipped, ticket
    raise AssertionError("no draw skipped a ticket")


def test_a_raffle_draw_that_skipped_blocked_holders_verifies() -> None:
    seed, total, skipped, winner = _raffle_with_skips()
    args = ["fairness", "verify", "--server-seed", SEED, "--client-seed", seed,
            "--tickets", str(total), "--expect-index", str(winner)]
    result = runner.invoke(app, [*args, "--skipped", ",".join(map(str, skipped))])
    assert result.exit_code == 0, result.output
    assert "✓ skipped_tickets" in result.output
    # the same draw without its skips does not verify: the stream's first ticket was not
    # the winner's
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    wrong = [(skipped[0] + 1) % total, *skipped[1:]]
    result = runner.invoke(app, [*args, "--skipped", ",".join(map(str, wrong))])
    assert result.exit_code == 1
    assert (f"expected {', '.join(map(str, wrong))} | computed "
            f"{', '.join(map(str, skipped))}") in result.output


def test_a_mismatch_shows_expected_and_computed_hashes_whole_on_one_line() -> None:
    published = "ab" * 32
    result = runner.invoke(app, ["fairness", "verify", "--server-seed", SEED, "--client-seed",
                                 "me", "--server-seed-hash", published, "--weights", "1,1"],
                           env={"COLUMNS": "60"})
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "server_seed_hash" in x)
    assert f"expected {published} | computed {fairness.hash_seed(SEED)}" in line


def test_a_matching_hash_is_printed_whole_on_one_line() -> None:
    result = runner.invoke(app, ["fairness", "verify", "--server-seed", SEED, "--client-seed",
                                 "me", "--server-seed-hash", fairness.hash_seed(SEED),
                                 "--weights", "1,1"], env={"COLUMNS": "40"})
    assert result.exit_code == 0
    assert f"server_seed_hash: {fairness.hash_seed(SEED)}" in result.output
