"""Two-factor codes: RFC 6238 codes by the platform clock with one step of tolerance,
each accepted once; recovery codes kept as hashes, in any case and spacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from wowsino.operators.twofactor import (
    matching_step,
    new_recovery_codes,
    new_secret,
    qr_svg,
    recovery_hash,
)

NOW = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)


def test_a_code_matches_its_step_and_the_neighbouring_ones_only() -> None:
    secret = new_secret()
    totp = pyotp.TOTP(secret)
    step = int(NOW.timestamp()) // 30
    assert matching_step(secret, totp.at(NOW), NOW, None) == step
    assert matching_step(secret, totp.at(NOW - timedelta(seconds=30)), NOW, None) == step - 1
    assert matching_step(secret, totp.at(NOW + timedelta(seconds=30)), NOW, None) == step + 1
    assert matching_step(secret, totp.at(NOW - timedelta(seconds=90)), NOW, None) is None


def test_a_code_is_not_accepted_twice_nor_an_older_one_after_it() -> None:
    secret = new_secret()
    totp = pyotp.TOTP(secret)
    step = matching_step(secret, totp.at(NOW), NOW, None)
    assert matching_step(secret, totp.at(NOW), NOW, step) is None
    assert matching_step(secret, totp.at(NOW - timedelta(seconds=30)), NOW, step) is None


def test_malformed_codes_never_match() -> None:
    secret = new_secret()
    for code in ("", "12345", "1234567", "abcdef", "12 34 5x", "１２３４５６", "ключ12"):
        assert matching_step(secret, code, NOW, None) is None


def test_recovery_codes_are_distinct_and_hashed_in_any_case_and_spacing() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    assert recovery_hash(codes[0]) == recovery_hash(codes[0].upper().replace("-", " "))
    assert recovery_hash(codes[0]) != recovery_hash(codes[1])


def test_the_qr_code_is_an_inline_svg_without_script() -> None:
    svg = qr_svg(pyotp.TOTP(new_secret()).provisioning_uri(name="a@x.io", issuer_name="W"))
    assert svg.startswith("<svg") and "<script" not in svg and "<?xml" not in svg
