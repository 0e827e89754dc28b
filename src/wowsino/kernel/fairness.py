"""Provably fair draws. Dependency-free (standard library only) and importable alone,
so players and auditors can run exactly the code that drew their result.

- ``server_seed``: 32 random bytes, shown as 64 lowercase hex.
- ``server_seed_hash``: hex SHA-256 of the 32 raw bytes (published before the draw).
- Byte stream: ``HMAC-SHA256(key=<32 raw seed bytes>, msg="<client_seed>:<round>")``
  for round = 0, 1, 2, …, concatenated.
- ``uniform_int(n)``: read 4 bytes as a big-endian u32 ``u``; if
  ``u < 2**32 - (2**32 % n)`` return ``u % n``, else read the next 4 bytes.
- Weighted pick: ``r = uniform_int(sum(weights))``; walk the table in its stored
  order; the first item whose cumulative weight exceeds ``r`` wins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from typing import Any

U32 = 2**32


def new_server_seed() -> str:
    """A fresh server seed: 32 bytes from the OS CSPRNG as 64 lowercase hex."""
    return secrets.token_bytes(32).hex()


def seed_bytes(server_seed: str) -> bytes:
    raw = bytes.fromhex(server_seed)
    if len(raw) != 32:
        raise ValueError("a server seed is 32 bytes (64 hex characters)")
    return raw


def hash_seed(server_seed: str) -> str:
    """The commitment published before a draw: hex SHA-256 of the raw seed bytes."""
    return hashlib.sha256(seed_bytes(server_seed)).hexdigest()


class ByteStream:
    """The deterministic byte stream of one draw."""

    def __init__(self, server_seed: str, client_seed: str) -> None:
        self._key = seed_bytes(server_seed)
        self._client_seed = client_seed
        self._round = 0
        self._buffer = b""

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            msg = f"{self._client_seed}:{self._round}".encode()
            self._buffer += hmac.new(self._key, msg, hashlib.sha256).digest()
            self._round += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def uniform_int(stream: ByteStream, n: int) -> int:
    """A uniform integer in ``[0, n)`` by rejection sampling (no modulo bias)."""
    if not 1 <= n <= U32:
        raise ValueError("n must be between 1 and 2**32")
    limit = U32 - (U32 % n)
    while True:
        u = int.from_bytes(stream.read(4), "big")
        if u < limit:
            return u % n


def weighted_pick(stream: ByteStream, weights: Sequence[int]) -> int:
    """The index of the winning item for integer ``weights`` in their stored order."""
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be non-negative integers with a positive sum")
    r = uniform_int(stream, sum(weights))
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if r < cumulative:
            return index
    raise AssertionError("unreachable: r < sum(weights)")


def draw_weighted(server_seed: str, client_seed: str, weights: Sequence[int]) -> int:
    """Recompute a lootbox or mini-game result: the winning index."""
    return weighted_pick(ByteStream(server_seed, client_seed), weights)


def draw_uniform(server_seed: str, client_seed: str, n: int) -> int:
    """Recompute a raffle result: the winning ticket index in ``[0, n)``."""
    return uniform_int(ByteStream(server_seed, client_seed), n)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that table and ticket hashes cover."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def prize_table_hash(table: Sequence[dict[str, Any]]) -> str:
    """Hex SHA-256 of the canonical JSON of a prize table (amounts as strings)."""
    return hashlib.sha256(canonical_json(list(table))).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
