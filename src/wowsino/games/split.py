"""The arithmetic of the cash and bonus split, in exact integers (minor units).

- A bet spends cash first, then bonus money: ``cash = min(stake, cash balance)``.
- A win is credited in the split of its round's bets: with ``C`` cash and ``B`` bonus
  money staked, the bonus share is ``floor(win × B / (C + B))`` and the cash share the
  rest, so the remainder of the division (less than one minor unit) is always cash and
  the two shares add up to the win exactly. A round without a standing bet pays cash.
- Sharing an amount among bets in proportion to their stakes (the win reported to the
  spine with each settled bet): each gets ``floor(amount × stake / total)``; what the
  floors leave goes to the first bet with a stake, so the shares add up exactly.
"""

from __future__ import annotations

from collections.abc import Sequence


def bet_split(stake: int, cash_balance: int) -> tuple[int, int]:
    """``(cash, bonus)`` parts of a stake: cash first."""
    cash = min(stake, max(cash_balance, 0))
    return cash, stake - cash


def win_split(win: int, cash_staked: int, bonus_staked: int) -> tuple[int, int]:
    """``(cash, bonus)`` shares of a win in the split of the stakes."""
    total = cash_staked + bonus_staked
    if total <= 0:
        return win, 0
    bonus = win * bonus_staked // total
    return win - bonus, bonus


def shares(amount: int, stakes: Sequence[int]) -> list[int]:
    """``amount`` shared in proportion to ``stakes`` (all zero: nothing to share)."""
    total = sum(stakes)
    if total <= 0:
        return [0] * len(stakes)
    out = [amount * stake // total for stake in stakes]
    first = next(i for i, stake in enumerate(stakes) if stake > 0)
    out[first] += amount - sum(out)
    return out
