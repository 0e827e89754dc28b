"""Minor units: how API amounts become integers and back, per asset scale."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wowsino.kernel import money
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import (
    ASSETS,
    MAX_MINOR,
    Rail,
    asset,
    check_bound,
    check_rail_asset,
    from_minor,
    to_minor,
)

USD, BTC, USDC, JPY, WINZ, XP = (ASSETS[c] for c in ("USD", "BTC", "USDC", "JPY", "WINZ", "XP"))


@pytest.mark.parametrize(
    ("value", "a", "minor"),
    [
        ("0.50", USD, 50),
        ("12.3", USD, 1230),
        (Decimal("1.00"), USD, 100),
        (7, USD, 700),
        ("0.00000001", BTC, 1),
        ("1", BTC, 100_000_000),
        ("0.000001", USDC, 1),
        ("1234", JPY, 1234),
        (5, WINZ, 5),
        ("250", XP, 250),
        ("1.500000", USD, 150),  # trailing zeros are not extra decimals
        ("15e-1", USD, 150),
        ("1E+2", USD, 10_000),
        (0.1, USD, 10),  # a float is read through its shortest repr, never its binary value
    ],
)
def test_to_minor_scales_by_the_asset(value: object, a: object, minor: int) -> None:
    assert to_minor(value, a) == minor  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "a"),
    [("0.001", USD), ("0.000000001", BTC), ("0.0000001", USDC), ("1.5", JPY), ("0.5", WINZ),
     ("1.1", XP), ("1.0000000000000000000000000001", USD), ("1e-999999999", USD),
     (0.30000000000000004, USD)],
)
def test_too_many_decimals_are_refused_not_rounded(value: object, a: object) -> None:
    with pytest.raises(ValidationFailed, match="decimal places"):
        to_minor(value, a)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, "0", "0.00", Decimal("-0"), "-0.0", 0.0])
def test_zero_is_refused(value: object) -> None:
    with pytest.raises(ValidationFailed, match="zero"):
        to_minor(value, USD)
    with pytest.raises(ValidationFailed, match="zero"):
        to_minor(value, USD, allow_negative=True)


def test_negative_only_when_allowed() -> None:
    with pytest.raises(ValidationFailed, match="positive"):
        to_minor("-1.25", USD)
    assert to_minor("-1.25", USD, allow_negative=True) == -125
    assert to_minor(-3, WINZ, allow_negative=True) == -3
    with pytest.raises(ValidationFailed, match="decimal places"):
        to_minor("-0.001", USD, allow_negative=True)


@pytest.mark.parametrize(
    "value",
    ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", float("nan"), float("inf"),
     Decimal("NaN"), Decimal("-Infinity")],
)
def test_non_finite_values_are_refused(value: object) -> None:
    with pytest.raises(ValidationFailed, match="finite"):
        to_minor(value, USD, allow_negative=True)


@pytest.mark.parametrize("value", [True, False, None, [1], {"amount": 1}, b"1", "", "abc",
                                   "1,00", "1.2.3"])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValidationFailed, match="must be a number") as caught:
        to_minor(value, USD, field="stake")
    assert caught.value.message.startswith("stake:")
    assert caught.value.details == {"field": "stake"}


def test_the_bound_of_every_asset() -> None:
    """10^15 minor units, far inside a bigint: a balance plus a posting never overflows."""
    assert MAX_MINOR == 10**15
    assert all(a.max_minor == MAX_MINOR for a in ASSETS.values())
    assert 2 * MAX_MINOR < 2**63
    assert to_minor(str(MAX_MINOR), WINZ) == MAX_MINOR
    assert to_minor("10000000000000.00", USD) == MAX_MINOR
    assert to_minor("-10000000000000", USD, allow_negative=True) == -MAX_MINOR
    assert to_minor("10000000", BTC) == MAX_MINOR
    for too_big in ("10000000000000.01", str(MAX_MINOR + 1), "9223372036854775807",
                    "92233720368547758.07", "1e19", "1e999999999", 10**40,
                    "123456789012345678901234567890"):
        with pytest.raises(ValidationFailed, match="too large") as caught:
            to_minor(too_big, WINZ if "." not in str(too_big) else USD)
        assert caught.value.details["field"] == "amount"
    with pytest.raises(ValidationFailed, match="too large"):
        to_minor("-1e999999999", USD, allow_negative=True)
    with pytest.raises(ValidationFailed, match=r"at most 10000000\.00000000 BTC"):
        to_minor("10000000.00000001", BTC)


@given(code=st.sampled_from(sorted(ASSETS)), minor=st.integers(-(2**64), 2**64).filter(bool))
def test_check_bound_refuses_beyond_the_bound(code: str, minor: int) -> None:
    a = ASSETS[code]
    if abs(minor) <= a.max_minor:
        assert check_bound(minor, a) == minor
    else:
        with pytest.raises(ValidationFailed, match="too large"):
            check_bound(minor, a, field="seed_usd")


def test_from_minor_has_exactly_scale_places() -> None:
    assert str(from_minor(50, USD)) == "0.50"
    assert str(from_minor(0, USD)) == "0.00"
    assert str(from_minor(-1, USD)) == "-0.01"
    assert from_minor(1, BTC) == Decimal("0.00000001")
    assert from_minor(1, BTC).as_tuple().exponent == -8
    assert str(from_minor(1234, JPY)) == "1234"
    assert str(from_minor(MAX_MINOR, USD)) == "10000000000000.00"
    assert str(from_minor(7, WINZ)) == "7"


@given(code=st.sampled_from(sorted(ASSETS)),
       minor=st.integers(-MAX_MINOR, MAX_MINOR).filter(bool))
def test_round_trip(code: str, minor: int) -> None:
    a = ASSETS[code]
    shown = from_minor(minor, a)
    assert to_minor(shown, a, allow_negative=True) == minor
    assert to_minor(str(shown), a, allow_negative=True) == minor


def test_asset_lookup() -> None:
    assert asset("usd") is USD
    assert asset("WINZ") is WINZ
    for unknown in ("XYZ", "", 5, None):
        with pytest.raises(ValidationFailed, match="unknown asset") as caught:
            asset(unknown, field="currency")  # type: ignore[arg-type]
        assert caught.value.details == {"field": "currency"}


@pytest.mark.parametrize("code", sorted(ASSETS))
def test_rail_and_asset_compatibility(code: str) -> None:
    a = ASSETS[code]
    allowed = {
        Rail.REAL: a.kind in ("fiat", "crypto"),
        Rail.BONUS: a.kind in ("fiat", "crypto"),
        Rail.WINZ: code == "WINZ",
        Rail.XP: code == "XP",
    }
    for rail, ok in allowed.items():
        if ok:
            check_rail_asset(rail, a)
        else:
            with pytest.raises(ValidationFailed, match=f"not held on the {rail.value} rail"):
                check_rail_asset(rail, a)


def test_the_registry() -> None:
    assert {c: (a.scale, a.kind) for c, a in ASSETS.items() if c in
            ("USD", "EUR", "BTC", "USDC", "JPY", "WINZ", "XP")} == {
        "USD": (2, "fiat"), "EUR": (2, "fiat"), "BTC": (8, "crypto"), "USDC": (6, "crypto"),
        "JPY": (0, "fiat"), "WINZ": (0, "points"), "XP": (0, "points"),
    }
    assert all(code == a.code for code, a in ASSETS.items())
    assert [a.is_currency for a in (USD, BTC, WINZ, XP)] == [True, True, False, False]


def _decimal_outcome(value: str | Decimal, a: money.Asset) -> object:
    """What ``to_minor`` answers when it reads ``value`` through Decimal: the minor units
    or the refusal's message."""
    try:
        return money._exact_minor(value, a, field="amount", allow_negative=False,
                                  allow_zero=False)
    except ValidationFailed as error:
        return str(error)


@given(code=st.sampled_from(sorted(ASSETS)), whole=st.text("0123456789", min_size=1, max_size=22),
       places=st.none() | st.text("0123456789", max_size=12))
def test_a_plain_amount_reads_as_through_decimal(code: str, whole: str,
                                                 places: str | None) -> None:
    """The quick reading of plain text ("12", "2.50") gives exactly what the exact
    Decimal reading gives, refusals included."""
    a = ASSETS[code]
    value = whole if places is None else f"{whole}.{places}"
    try:
        quick: object = to_minor(value, a)
    except ValidationFailed as error:
        quick = str(error)
    assert quick == _decimal_outcome(value, a)


@given(code=st.sampled_from(sorted(ASSETS)), sign=st.integers(0, 1),
       digits=st.lists(st.integers(0, 9), min_size=1, max_size=24),
       exponent=st.integers(-12, 6))
def test_a_decimal_amount_reads_as_by_its_digits(code: str, sign: int, digits: list[int],
                                                 exponent: int) -> None:
    """The quick reading of a body's Decimal gives exactly what the digit arithmetic
    gives, refusals included."""
    a = ASSETS[code]
    value = Decimal((sign, tuple(digits), exponent))
    try:
        quick: object = to_minor(value, a)
    except ValidationFailed as error:
        quick = str(error)
    assert quick == _decimal_outcome(value, a)


@given(code=st.sampled_from(sorted(ASSETS)), minor=st.integers(-(10**20), 10**20))
def test_from_minor_is_the_scaled_integer(code: str, minor: int) -> None:
    a = ASSETS[code]
    shown = from_minor(minor, a)
    assert shown == Decimal(minor) / Decimal(10) ** a.scale
    assert shown.as_tuple().exponent == -a.scale
