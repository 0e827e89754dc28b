"""Assets, rails and minor units: the one money type of the platform.

The API speaks decimal numbers in an asset's unit (``0.50`` USD); storage and
arithmetic use integers in minor units. Floats never touch money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from wowsino.kernel.errors import ValidationFailed


class Rail(StrEnum):
    REAL = "real"
    BONUS = "bonus"
    WINZ = "winz"
    XP = "xp"


# The largest amount of any asset, in minor units, one posting may move and one balance may
# hold (docs/concepts.md, "Amount bounds"): 10^15 is ten trillion dollars or ten million
# bitcoin, beyond any real balance, and 9,223 times below the bigint ceiling, so adding a
# posting to a balance, or summing thousands of bounded postings, can never overflow.
MAX_MINOR = 10**15


@dataclass(frozen=True)
class Asset:
    code: str
    scale: int
    kind: str  # fiat | crypto | points
    max_minor: int = MAX_MINOR  # per posting and per balance, in minor units

    @property
    def is_currency(self) -> bool:
        return self.kind in ("fiat", "crypto")


# Mirrors the `assets` table (a test keeps the two in step).
ASSETS: dict[str, Asset] = {
    a.code: a
    for a in (
        Asset("USD", 2, "fiat"),
        Asset("EUR", 2, "fiat"),
        Asset("GBP", 2, "fiat"),
        Asset("CAD", 2, "fiat"),
        Asset("AUD", 2, "fiat"),
        Asset("NZD", 2, "fiat"),
        Asset("SEK", 2, "fiat"),
        Asset("NOK", 2, "fiat"),
        Asset("BRL", 2, "fiat"),
        Asset("JPY", 0, "fiat"),
        Asset("BTC", 8, "crypto"),
        Asset("ETH", 8, "crypto"),
        Asset("USDC", 6, "crypto"),
        Asset("USDT", 6, "crypto"),
        Asset("WINZ", 0, "points"),
        Asset("XP", 0, "points"),
    )
}


def asset(code: str, *, field: str = "asset") -> Asset:
    """The registered asset ``code`` or a 400 naming ``field``."""
    found = ASSETS.get(code.upper()) if isinstance(code, str) else None
    if found is None:
        raise ValidationFailed(f"{field}: unknown asset {code!r}", field=field)
    return found


def check_rail_asset(rail: Rail, a: Asset, *, field: str = "asset") -> None:
    """Refuse an asset that does not live on ``rail`` (WINZ only on winz, …)."""
    allowed = {
        Rail.REAL: a.is_currency,
        Rail.BONUS: a.is_currency,
        Rail.WINZ: a.code == "WINZ",
        Rail.XP: a.code == "XP",
    }[rail]
    if not allowed:
        raise ValidationFailed(f"{field}: {a.code} is not held on the {rail} rail", field=field)


def to_minor(
    value: Any, a: Asset, *, field: str = "amount", allow_negative: bool = False,
    allow_zero: bool = False,
) -> int:
    """Parse an API amount into minor units of ``a``.

    Raises ValidationFailed for non-numbers, non-finite values, zero, too many
    decimals, out-of-range values and (unless allowed) negative amounts.
    """
    # the common cases first: a positive amount with at most the asset's places, as a
    # body's Decimal or as plain text ("12", "2.50"); anything else takes the general path
    if type(value) is Decimal:
        sign, digits, exponent = value.as_tuple()
        if (not sign and type(exponent) is int and exponent >= -a.scale
                and len(digits) + exponent + a.scale <= _QUICK_DIGITS):
            # an integer of at most 18 digits: exact at the default precision (28)
            minor: int = int(value.scaleb(a.scale))
            if 0 < minor <= a.max_minor:
                return minor
    elif type(value) is str:
        plain = _PLAIN.fullmatch(value)
        if plain is not None:
            whole, places = plain.groups()
            if places is None or len(places) <= a.scale:
                minor = int(whole) * 10**a.scale + (
                    int(places) * 10**(a.scale - len(places)) if places else 0)
                if 0 < minor <= a.max_minor:
                    return minor
    return _exact_minor(value, a, field=field, allow_negative=allow_negative,
                        allow_zero=allow_zero)


# a positive amount in plain notation, ASCII digits only; anything else (signs, exponents,
# spaces, more places than the asset has) takes the general path and its errors
_PLAIN = re.compile(r"([0-9]{1,20})(?:\.([0-9]{1,20}))?")
_QUICK_DIGITS = 18


def _exact_minor(value: Any, a: Asset, *, field: str, allow_negative: bool,
                 allow_zero: bool) -> int:
    """``to_minor`` for any value, by exact digit arithmetic."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise ValidationFailed(f"{field}: must be a number", field=field)
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(f"{field}: must be a number", field=field) from None
    if not dec.is_finite():
        raise ValidationFailed(f"{field}: must be a finite number", field=field)
    if dec == 0 and not allow_zero:
        raise ValidationFailed(f"{field}: must not be zero", field=field)
    if dec < 0 and not allow_negative:
        raise ValidationFailed(f"{field}: must be positive", field=field)
    # Exact digit arithmetic: Decimal's context would round past 28 digits and
    # overflow or underflow on extreme exponents.
    sign, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int)  # finite
    shift = exponent + a.scale
    if shift < 0:
        if any(digits[shift:]):
            raise ValidationFailed(
                f"{field}: {a.code} allows at most {a.scale} decimal places", field=field
            )
        digits, shift = digits[:shift], 0
    significant = "".join(map(str, digits)).lstrip("0")
    if len(significant) + shift > len(str(a.max_minor)):
        raise _too_large(a, field)
    minor = int(significant or "0") * 10**shift
    if minor > a.max_minor:
        raise _too_large(a, field)
    return int(-minor if sign else minor)


def _too_large(a: Asset, field: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: too large, at most {from_minor(a.max_minor, a)} {a.code}",
                            field=field, max=str(from_minor(a.max_minor, a)))


def check_bound(minor: int, a: Asset, *, field: str = "amount") -> int:
    """``minor`` if it is within the asset's bound (either sign), else a 400 naming ``field``."""
    if not -a.max_minor <= minor <= a.max_minor:
        raise _too_large(a, field)
    return minor


def from_minor(minor: int, a: Asset) -> Decimal:
    """Minor units as a Decimal in the asset's unit, with exactly ``scale`` places."""
    return Decimal(f"{minor}E-{a.scale}")  # read exactly: no context, no rounding
