"""A round of a pool: what it starts with and where it drops.

A round starts with the configured seed. Its trigger is ``must_drop_at``, or, for a
mystery pool, a hidden point drawn provably fair when the round starts::

    server_seed  = 32 fresh random bytes (its SHA-256 is published at once)
    client_seed  = "<jackpot_id>:<round>"
    drop_point   = seed + 1 + uniform_int(must_drop_at - seed)     (minor units)

so the point lies in ``(seed, must_drop_at]``. ``uniform_int`` is the platform's
draw (``kernel.fairness.draw_uniform``), which takes ranges up to 2**32 minor units.
The seed and the point are revealed when the round ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from wowsino.kernel import fairness
from wowsino.kernel.errors import ValidationFailed

MAX_MYSTERY_RANGE = fairness.U32  # the widest range draw_uniform accepts


@dataclass(frozen=True)
class RoundTerms:
    """The terms of one round (amounts in minor units)."""

    seed: int
    must_drop_at: int | None
    trigger_at: int | None
    server_seed: str | None = None
    server_seed_hash: str | None = None
    client_seed: str | None = None

    def columns(self) -> dict[str, Any]:
        return {"round_seed": self.seed, "round_must_drop_at": self.must_drop_at,
                "trigger_at": self.trigger_at, "mystery_server_seed": self.server_seed,
                "mystery_seed_hash": self.server_seed_hash,
                "mystery_client_seed": self.client_seed}


def check_config(*, seed: int, must_drop_at: int | None, mystery: bool) -> None:
    """The configuration rules: must_drop_at above the seed; mystery needs must_drop_at
    and a range the draw can cover. Raises ValidationFailed naming must_drop_at."""
    if must_drop_at is None:
        if mystery:
            raise ValidationFailed("must_drop_at: required for a mystery jackpot",
                                   field="must_drop_at")
        return
    if must_drop_at <= seed:
        raise ValidationFailed("must_drop_at: must be greater than seed_usd",
                               field="must_drop_at")
    if mystery and must_drop_at - seed > MAX_MYSTERY_RANGE:
        raise ValidationFailed(
            f"must_drop_at: a mystery range is at most {MAX_MYSTERY_RANGE} minor units "
            "above the seed", field="must_drop_at")


def client_seed_for(jackpot_id: UUID, round: int) -> str:
    return f"{jackpot_id}:{round}"


def drop_point(server_seed: str, client_seed: str, seed: int, must_drop_at: int) -> int:
    """Recompute a mystery drop point from its revealed inputs."""
    return seed + 1 + fairness.draw_uniform(server_seed, client_seed, must_drop_at - seed)


def new_round(
    jackpot_id: UUID, round: int, *, seed: int, must_drop_at: int | None, mystery: bool
) -> RoundTerms:
    """The terms of ``round``: for a mystery pool, a fresh seed and its hidden point."""
    if not mystery or must_drop_at is None:
        return RoundTerms(seed, must_drop_at, must_drop_at)
    server_seed = fairness.new_server_seed()
    client_seed = client_seed_for(jackpot_id, round)
    return RoundTerms(seed, must_drop_at, drop_point(server_seed, client_seed, seed, must_drop_at),
                      server_seed, fairness.hash_seed(server_seed), client_seed)


def reveal(jackpot: dict[str, Any]) -> dict[str, Any] | None:
    """What a finished mystery round publishes (minor units), or None."""
    if jackpot["mystery_server_seed"] is None:
        return None
    return {"server_seed": jackpot["mystery_server_seed"],
            "server_seed_hash": jackpot["mystery_seed_hash"],
            "client_seed": jackpot["mystery_client_seed"],
            "seed": jackpot["round_seed"], "must_drop_at": jackpot["round_must_drop_at"],
            "drop_point": jackpot["trigger_at"]}
