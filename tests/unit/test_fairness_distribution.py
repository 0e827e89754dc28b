"""The weighted pick of ``kernel.fairness`` follows its weights: a chi-square test over
100,000 draws with fixed seeds (deterministic, standard library only)."""

from __future__ import annotations

import hashlib
from functools import cache

from wowsino.kernel import fairness

DRAWS = 100_000
# A table with a rare segment, a dominant one and a zero-weight one.
WEIGHTS = (1, 2, 3, 4, 10, 0, 30, 50)
# Upper 0.1% point of chi-square with 6 degrees of freedom (7 non-zero segments).
CHI2_CRITICAL_6_DF = 22.458


def _server_seed(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@cache
def _tally(weights: tuple[int, ...]) -> list[int]:
    counts = [0] * len(weights)
    seeds = [_server_seed(f"distribution-{n}") for n in range(10)]
    for i in range(DRAWS):
        # ten seeds, many client seeds: the shape of a real chain of draws
        counts[fairness.draw_weighted(seeds[i % 10], f"client:{i}", weights)] += 1
    return counts


def test_weighted_pick_matches_its_weights_by_chi_square() -> None:
    counts = _tally(WEIGHTS)
    total = sum(WEIGHTS)
    chi2 = 0.0
    for weight, seen in zip(WEIGHTS, counts, strict=True):
        if weight == 0:
            continue
        expected = DRAWS * weight / total
        chi2 += (seen - expected) ** 2 / expected
    assert chi2 < CHI2_CRITICAL_6_DF, (chi2, counts)


def test_a_zero_weight_segment_is_never_drawn() -> None:
    assert _tally(WEIGHTS)[WEIGHTS.index(0)] == 0


def test_uniform_int_has_no_modulo_bias_for_an_awkward_range() -> None:
    # n = 3 * 2**30 leaves 2**30 rejected values per u32: a plain modulo would make
    # the lower third twice as likely as the rest.
    n = 3 * 2**30
    low = sum(fairness.draw_uniform(_server_seed("bias"), f"c{i}", n) < 2**30
              for i in range(30_000))
    assert abs(low / 30_000 - 1 / 3) < 0.02
