"""Offline recomputation behind ``wowsino fairness verify`` (no database).

Each check records what was published (``expected``) and what the inputs give
(``computed``), so a mismatch shows both side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wowsino.kernel import fairness


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    computed: str
    expected: str | None = None  # None: nothing published to compare with


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)

    def add(self, name: str, computed: str, expected: str | None = None, *,
            passed: bool | None = None) -> None:
        """A check that passes when ``expected`` is absent or equals ``computed`` (or as
        ``passed`` says)."""
        if passed is None:
            passed = expected is None or expected == computed
        self.checks.append(Check(name, passed, computed, expected))


def verify(
    *, server_seed: str, client_seed: str, server_seed_hash: str | None = None,
    weights: list[int] | None = None, prize_table: Path | None = None,
    prize_table_hash: str | None = None, tickets: int | None = None,
    ticket_list: Path | None = None, expect_holder: str | None = None,
    expect_index: int | None = None, expect_segment: str | None = None,
    skipped: list[int] | None = None,
) -> Verdict:
    """Recompute a weighted (lootbox, mini-game) or uniform (raffle) result.

    For a raffle, ``ticket_list`` is the published list (its exact bytes): its SHA-256 must
    be the client seed, it gives the ticket count, and it names the winning holder id.
    A raffle draw that skipped tickets of blocked holders read the byte stream on: the
    published ``skipped`` tickets must be the stream's first draws, in order, and the
    winning ticket the next one.
    """
    verdict = Verdict()
    ranges: list[dict[str, Any]] = []
    if ticket_list is not None:
        data = ticket_list.read_bytes()
        computed = fairness.sha256_hex(data)
        verdict.add("client_seed", computed, client_seed.lower())
        ranges = json.loads(data)
        if not isinstance(ranges, list):
            raise ValueError("ticket list: a JSON array of ranges")
        listed = sum(int(r["tickets"]) for r in ranges)
        if tickets is not None and tickets != listed:
            verdict.add("tickets", str(listed), str(tickets))
        tickets = listed
    if server_seed_hash is not None:
        verdict.add("server_seed_hash", fairness.hash_seed(server_seed),
                    server_seed_hash.lower())
    table: list[dict[str, Any]] | None = None
    if prize_table is not None:
        table = json.loads(prize_table.read_text())
        if not isinstance(table, list):
            raise ValueError("prize table: a JSON array of segments")
        table = [{**s, "amount": str(s["amount"])} for s in table]
        weights = [int(s["weight"]) for s in table]
        if prize_table_hash is not None:
            verdict.add("prize_table_hash", fairness.prize_table_hash(table),
                        prize_table_hash.lower())
    if weights is not None:
        _weighted(verdict, server_seed, client_seed, weights, table, expect_index,
                  expect_segment)
    if tickets is not None:
        winner = _raffle(verdict, server_seed, client_seed, tickets, expect_index,
                         skipped or [])
        if expect_holder is not None:
            holder = next((r.get("holder_id") for r in ranges if int(r["first_ticket_idx"])
                           <= winner < int(r["first_ticket_idx"]) + int(r["tickets"])), None)
            verdict.add("holder", str(holder), expect_holder)
    if not verdict.checks:
        verdict.add("inputs", "nothing to verify: give --weights, --prize-table or --tickets",
                    passed=False)
    return verdict


def _weighted(verdict: Verdict, server_seed: str, client_seed: str, weights: list[int],
              table: list[dict[str, Any]] | None, expect_index: int | None,
              expect_segment: str | None) -> None:
    index = fairness.draw_weighted(server_seed, client_seed, weights)
    label = table[index]["segment_label"] if table else None
    shown = f"index {index}" + (f" ({label})" if label else "")
    if expect_index is not None:
        verdict.add("result", shown, f"index {expect_index}", passed=index == expect_index)
    if expect_segment is not None:
        verdict.add("segment", str(label), expect_segment)
    if expect_index is None and expect_segment is None:
        verdict.add("result", shown)


def _raffle(verdict: Verdict, server_seed: str, client_seed: str, tickets: int,
            expect_index: int | None, skipped: list[int]) -> int:
    """Check the skipped tickets and the winning ticket; return the winning ticket."""
    stream = fairness.ByteStream(server_seed, client_seed)
    drawn = [fairness.uniform_int(stream, tickets) for _ in range(len(skipped) + 1)]
    if skipped:
        verdict.add("skipped_tickets", ", ".join(map(str, drawn[:-1])),
                    ", ".join(map(str, skipped)))
    verdict.add("winning_ticket", f"ticket {drawn[-1]} of {tickets}",
                None if expect_index is None else f"ticket {expect_index} of {tickets}")
    return drawn[-1]
