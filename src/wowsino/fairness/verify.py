"""Offline recomputation behind ``wowsino fairness verify`` (no database)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wowsino.kernel import fairness


@dataclass
class Verdict:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append((name, passed, detail))


def verify(
    *, server_seed: str, client_seed: str, server_seed_hash: str | None = None,
    weights: list[int] | None = None, prize_table: Path | None = None,
    prize_table_hash: str | None = None, tickets: int | None = None,
    ticket_list: Path | None = None, expect_holder: str | None = None,
    expect_index: int | None = None, expect_segment: str | None = None,
) -> Verdict:
    """Recompute a weighted (lootbox, mini-game) or uniform (raffle) result.

    For a raffle, ``ticket_list`` is the published list (its exact bytes): its SHA-256 must
    be the client seed, it gives the ticket count, and it names the winning holder id.
    """
    verdict = Verdict()
    ranges: list[dict[str, Any]] = []
    if ticket_list is not None:
        data = ticket_list.read_bytes()
        computed = fairness.sha256_hex(data)
        verdict.add("client_seed", computed == client_seed.lower(),
                    f"sha256(ticket list) = {computed}")
        ranges = json.loads(data)
        assert isinstance(ranges, list)
        listed = sum(int(r["tickets"]) for r in ranges)
        if tickets is not None and tickets != listed:
            verdict.add("tickets", False, f"the list holds {listed} tickets, not {tickets}")
        tickets = listed
    if server_seed_hash is not None:
        computed = fairness.hash_seed(server_seed)
        verdict.add("server_seed_hash", computed == server_seed_hash.lower(),
                    f"sha256(server_seed) = {computed}")
    table: list[dict[str, Any]] | None = None
    if prize_table is not None:
        table = json.loads(prize_table.read_text())
        assert isinstance(table, list)
        table = [{**s, "amount": str(s["amount"])} for s in table]
        weights = [int(s["weight"]) for s in table]
        if prize_table_hash is not None:
            computed = fairness.prize_table_hash(table)
            verdict.add("prize_table_hash", computed == prize_table_hash.lower(),
                        f"sha256(table) = {computed}")
    if weights is not None:
        index = fairness.draw_weighted(server_seed, client_seed, weights)
        label = table[index]["segment_label"] if table else None
        detail = f"index {index}" + (f" ({label})" if label else "")
        if expect_index is not None:
            verdict.add("result", index == expect_index, detail)
        if expect_segment is not None:
            verdict.add("segment", label == expect_segment, detail)
        if expect_index is None and expect_segment is None:
            verdict.add("result", True, detail)
    if tickets is not None:
        winner = fairness.draw_uniform(server_seed, client_seed, tickets)
        verdict.add("winning_ticket", expect_index is None or winner == expect_index,
                    f"ticket {winner} of {tickets}")
        holder = next((r.get("holder_id") for r in ranges if int(r["first_ticket_idx"])
                       <= winner < int(r["first_ticket_idx"]) + int(r["tickets"])), None)
        if expect_holder is not None:
            verdict.add("holder", holder == expect_holder, f"ticket {winner} is held by {holder}")
    if not verdict.checks:
        verdict.add("inputs", False, "nothing to verify: give --weights, --prize-table or --tickets")
    return verdict
