"""The split arithmetic of the seamless wallet: exact integers, nothing lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wowsino.games import split

minor = st.integers(min_value=0, max_value=10**13)


@given(stake=minor, cash=st.integers(min_value=-(10**13), max_value=10**13))
def test_a_bet_spends_cash_first(stake: int, cash: int) -> None:
    cash_part, bonus_part = split.bet_split(stake, cash)
    assert cash_part + bonus_part == stake
    assert cash_part == min(stake, max(cash, 0)) and bonus_part >= 0


@given(win=minor, cash=minor, bonus=minor)
def test_a_win_is_shared_exactly_with_the_remainder_in_cash(win: int, cash: int,
                                                            bonus: int) -> None:
    cash_share, bonus_share = split.win_split(win, cash, bonus)
    assert cash_share + bonus_share == win and min(cash_share, bonus_share) >= 0
    if cash + bonus == 0:
        assert bonus_share == 0
    else:  # the bonus share is the exact proportion rounded down: less than a unit off
        exact = win * bonus
        assert bonus_share * (cash + bonus) <= exact < (bonus_share + 1) * (cash + bonus)


@given(amount=minor, stakes=st.lists(minor, min_size=1, max_size=8))
def test_shares_add_up_to_the_amount(amount: int, stakes: list[int]) -> None:
    shares = split.shares(amount, stakes)
    assert len(shares) == len(stakes)
    if sum(stakes) == 0:
        assert shares == [0] * len(stakes)
        return
    assert sum(shares) == amount and min(shares) >= 0
    assert all(share == 0 for share, stake in zip(shares, stakes, strict=True) if stake == 0)
