"""The published ticket list and the winning ticket: pure functions anyone can rerun.

The client seed of a draw is the hex SHA-256 of the ticket list's canonical JSON
(``kernel.fairness.canonical_json``): an array of per-entry ranges in ticket
order, ``{"first_ticket_idx", "holder_id", "tickets"}``. A holder id names a player
without revealing them: ``hld_`` + the first 32 hex digits of
``HMAC-SHA256(key = the raffle's holder key, "raffle-holder:<player uuid>")``. The
holder key is random per raffle and never leaves the server, so the id is stable for
a player within a raffle, differs between raffles, and cannot be turned back into
the player, before or after the draw; a player learns their own holder id from
their entries. The winning ticket is ``uniform_int(total_tickets)`` over the draw's
byte stream; when that ticket's holder may not win (blocked by the compliance gate
at draw time), the same stream is read on until a ticket of an eligible holder
comes up.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wowsino.kernel import fairness


@dataclass(frozen=True, slots=True)
class TicketRange:
    """One entry: ``tickets`` consecutive tickets starting at ``first_ticket_idx``."""

    first_ticket_idx: int
    tickets: int
    holder_id: str
    player_id: str  # never published

    def public(self) -> dict[str, Any]:
        return {"first_ticket_idx": self.first_ticket_idx, "holder_id": self.holder_id,
                "tickets": self.tickets}


def holder_id(holder_key: bytes, player_id: str) -> str:
    """The pseudonym of a player in one raffle (keyed by that raffle's secret holder key)."""
    digest = hmac.new(holder_key, b"raffle-holder:" + player_id.encode(), hashlib.sha256)
    return f"hld_{digest.hexdigest()[:32]}"


@dataclass(frozen=True)
class Pick:
    """The winning ticket, its holder, and the tickets read before it that could not win."""

    winning_ticket_idx: int
    holder: TicketRange
    skipped_ticket_idxs: list[int] = field(default_factory=list)


def ticket_list(ranges: Iterable[TicketRange]) -> list[dict[str, Any]]:
    return [r.public() for r in ranges]


def ticket_bytes(ranges: Iterable[TicketRange]) -> bytes:
    """The exact bytes whose SHA-256 is the draw's client seed."""
    return fairness.canonical_json(ticket_list(ranges))


def client_seed(ranges: Iterable[TicketRange]) -> str:
    return fairness.sha256_hex(ticket_bytes(ranges))


def holder_of(ranges: Sequence[TicketRange], ticket_idx: int) -> TicketRange:
    """The entry holding ``ticket_idx``; ranges are contiguous and in ticket order."""
    starts = [r.first_ticket_idx for r in ranges]
    position = bisect.bisect_right(starts, ticket_idx) - 1
    if position < 0 or ticket_idx >= starts[position] + ranges[position].tickets:
        raise ValueError(f"no entry holds ticket {ticket_idx}")
    return ranges[position]


def pick_winner(
    server_seed: str, seed: str, ranges: Sequence[TicketRange], excluded: set[str]
) -> Pick:
    """Draw the winning ticket, skipping tickets held by ``excluded`` player ids.

    Raises ValueError when there are no tickets or every holder is excluded.
    """
    total = sum(r.tickets for r in ranges)
    if total == 0 or all(r.player_id in excluded for r in ranges):
        raise ValueError("no ticket can win")
    stream = fairness.ByteStream(server_seed, seed)
    skipped: list[int] = []
    while True:
        idx = fairness.uniform_int(stream, total)
        holder = holder_of(ranges, idx)
        if holder.player_id not in excluded:
            return Pick(idx, holder, skipped)
        skipped.append(idx)
