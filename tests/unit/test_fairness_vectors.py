"""The published test vectors in docs/fairness.md, checked against the platform's
module and against an independent implementation written from the spec text."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wowsino.kernel import fairness

DOC = Path(__file__).resolve().parents[2] / "docs" / "fairness.md"


def _vectors() -> dict[str, Any]:
    block = re.search(r"```json\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/fairness.md has no JSON test vectors"
    return dict(json.loads(block.group(1)))


def _independent_stream(seed_hex: str, client_seed: str) -> Iterator[int]:
    key, rnd = bytes.fromhex(seed_hex), 0
    while True:
        yield from hmac.new(key, f"{client_seed}:{rnd}".encode(), hashlib.sha256).digest()
        rnd += 1


def _independent_uniform(seed_hex: str, client_seed: str, n: int) -> int:
    it = _independent_stream(seed_hex, client_seed)
    limit = 2**32 - (2**32 % n)
    while True:
        u = int.from_bytes(bytes(next(it) for _ in range(4)), "big")
        if u < limit:
            return u % n


V = _vectors()


def test_seed_hash_is_sha256_of_raw_bytes() -> None:
    assert fairness.hash_seed(V["server_seed"]) == V["server_seed_hash"]
    assert hashlib.sha256(bytes.fromhex(V["server_seed"])).hexdigest() == V["server_seed_hash"]


def test_byte_stream() -> None:
    s = V["stream_first_32_bytes"]
    assert fairness.ByteStream(V["server_seed"], s["client_seed"]).read(32).hex() == s["hex"]
    it = _independent_stream(V["server_seed"], s["client_seed"])
    assert bytes(next(it) for _ in range(32)).hex() == s["hex"]


@pytest.mark.parametrize("case", V["uniform_int"])
def test_uniform_int(case: dict[str, Any]) -> None:
    got = fairness.draw_uniform(V["server_seed"], case["client_seed"], case["n"])
    assert got == case["result"]
    assert _independent_uniform(V["server_seed"], case["client_seed"], case["n"]) == got


def test_a_vector_exercises_rejection_sampling() -> None:
    case = next(c for c in V["uniform_int"] if c.get("note") == "first u32 rejected")
    first = int.from_bytes(fairness.ByteStream(V["server_seed"], case["client_seed"]).read(4),
                           "big")
    assert first >= 2**32 - (2**32 % case["n"])


@pytest.mark.parametrize("case", V["weighted_pick"])
def test_weighted_pick(case: dict[str, Any]) -> None:
    got = fairness.draw_weighted(V["server_seed"], case["client_seed"], case["weights"])
    assert got == case["index"]
    r = _independent_uniform(V["server_seed"], case["client_seed"], sum(case["weights"]))
    cumulative = 0
    for index, weight in enumerate(case["weights"]):
        cumulative += weight
        if r < cumulative:
            assert index == got
            break


def test_prize_table_hash() -> None:
    table = V["prize_table"]["table"]
    expected = hashlib.sha256(json.dumps(table, sort_keys=True, separators=(",", ":"))
                              .encode()).hexdigest()
    assert fairness.prize_table_hash(table) == V["prize_table"]["prize_table_hash"] == expected


def test_module_is_importable_alone_without_third_party_packages() -> None:
    import ast

    tree = ast.parse(Path(fairness.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "hashlib", "hmac", "json", "secrets", "collections",
                        "typing"}
