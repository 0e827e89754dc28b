"""The bonus cost simulator: a vectorised Monte-Carlo estimate of what a template costs.

Model (docs/engines/bonuses.md, "The cost simulator"): every simulated player starts
with the bonus (plus the deposit when wagering counts it) and bets ``bet_size``
(capped at ``max_bet``) on one game category until either the weighted turnover
reaches ``wagering_required`` (the bonus converts: the balance, capped at
``max_conversion``, less the player's own deposit, is the cost) or the balance can no
longer cover a bet (bust: the cost is 0). A spin returns ``bet × X`` with X drawn from
a gamma distribution of mean ``rtp`` and standard deviation ``volatility``, which is
never negative and has the long right tail of slot returns.

Statistics are computed in floating point over minor units and rounded to minor
units at the end: they are estimates, never money that moves. The generator is
numpy's PCG64 seeded with ``seed``: the same request gives the same answer.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np

from wowsino.bonuses import amounts
from wowsino.bonuses import terms as terms_
from wowsino.bonuses.schemas import SimulateIn
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import ASSETS, from_minor

CHUNK = 256  # spins simulated at once for every player still playing
MAX_WORK = 2 * 10**8  # players × max_spins: bounds the time and memory of one request


def _grant_value(template: dict[str, Any], deposit: int) -> int:
    terms, kind = template["terms"], template["type"]
    if kind in ("deposit_match", "reload"):
        if deposit <= 0:
            raise ValidationFailed("deposit_amount: required to simulate a deposit bonus",
                                   field="deposit_amount")
        return amounts.pct_of(deposit, terms)
    if kind == "free_spins":
        return int(terms["free_spin_count"]) * int(terms["free_spin_value"])
    amount = terms_.money(terms, "amount")
    if amount is None:
        raise ValidationFailed(f"template: a {kind} bonus has no fixed amount to simulate",
                               field="template")
    return amount


def run(template: dict[str, Any], given: SimulateIn) -> dict[str, Any]:
    """The estimate for ``given.players`` simulated grants of ``template``."""
    currency = ASSETS[template["currency"]]
    terms = template["terms"]
    if given.players * given.max_spins > MAX_WORK:
        raise ValidationFailed(f"max_spins: players × max_spins is at most {MAX_WORK:,}",
                               field="max_spins")
    bet = terms_.bounded(given.bet_size, currency, "bet_size")
    deposit = (0 if given.deposit_amount is None
               else terms_.bounded(given.deposit_amount, currency, "deposit_amount"))
    max_bet = terms_.money(terms, "max_bet")
    if max_bet is not None:
        bet = min(bet, max_bet)
    value = _grant_value(template, deposit)
    with_deposit = terms.get("wagering_basis") == "bonus_plus_deposit"
    required = terms_.wagering_required(terms, value, deposit)
    weight = float(terms_.weight(terms, given.game_category))
    start = value + (deposit if with_deposit else 0)
    cap = terms_.money(terms, "max_conversion")
    rng = np.random.Generator(np.random.PCG64(given.seed))
    n = given.players
    balance = np.full(n, float(start))
    turnover = np.zeros(n)
    counted = np.zeros(n)
    playing = np.full(n, required > 0 and weight > 0 and start >= bet)
    completed = np.full(n, required == 0)
    rtp, vol = float(given.rtp), float(given.volatility)
    shape = math.inf if vol == 0 else (rtp / vol) ** 2
    scale = 0.0 if vol == 0 else vol * vol / rtp
    spins_left = given.max_spins
    while playing.any() and spins_left > 0:
        idx = np.flatnonzero(playing)
        k = min(CHUNK, spins_left)
        spins_left -= k
        returns = (np.full((idx.size, k), rtp) if vol == 0
                   else rng.gamma(shape, scale, size=(idx.size, k)))
        path = balance[idx, None] + np.cumsum(bet * (returns - 1.0), axis=1)
        before = np.concatenate([balance[idx, None], path[:, :-1]], axis=1)
        # spins needed from here to finish the wagering
        need = np.ceil((required - counted[idx]) / (bet * weight)).astype(np.int64)
        bust_at = np.where((before < bet).any(axis=1), (before < bet).argmax(axis=1), k)
        done_at = np.where(need <= k, need, k + 1)
        finish = done_at <= bust_at
        played = np.where(finish, done_at, np.minimum(bust_at, k))
        take = np.clip(played - 1, 0, k - 1)
        balance[idx] = np.where(played > 0, path[np.arange(idx.size), take], balance[idx])
        turnover[idx] += played * bet
        counted[idx] += played * bet * weight
        completed[idx] = finish
        playing[idx] = ~finish & (bust_at >= k)
    cost = np.where(completed, np.maximum(balance - (deposit if with_deposit else 0), 0), 0.0)
    if cap is not None:
        cost = np.minimum(cost, cap)
    p5, p50, p95 = np.percentile(cost, [5, 50, 95])

    def money(x: Any) -> Decimal:
        return from_minor(round(float(x)), currency)

    return {
        "template_id": str(template["id"]), "players": n, "seed": given.seed,
        "currency": currency.code, "bonus_amount": from_minor(value, currency),
        "wagering_required": from_minor(required, currency),
        "bet_size": from_minor(bet, currency),
        "completion_rate": Decimal(str(round(float(completed.mean()), 4))),
        "expected_converted_real": money(cost.mean()),
        "expected_turnover": money(turnover.mean()),
        "cost_p5": money(p5), "cost_p50": money(p50), "cost_p95": money(p95),
        "expected_cost_per_1000_grants": money(cost.mean() * 1000),
        "unfinished": int(playing.sum()),
    }
