"""Console session cookies: HMAC-signed with a key derived from the admin token,
valid for 12 hours of the platform clock, with a CSRF token bound to each session."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from wowsino.console.auth import (
    LIFETIME,
    csrf_token,
    issue,
    session_key,
    token_matches,
    verify,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
KEY = session_key("the-admin-token")


def test_a_fresh_cookie_verifies_to_its_session() -> None:
    cookie = issue(KEY, NOW)
    session = verify(KEY, cookie, NOW)
    assert session is not None
    assert session.issued_at == int(NOW.timestamp())
    assert session.csrf_token == csrf_token(KEY, session.session_id)


def test_the_session_lasts_twelve_hours_by_the_clock_and_not_a_second_more() -> None:
    cookie = issue(KEY, NOW)
    assert LIFETIME.total_seconds() == 12 * 3600
    assert verify(KEY, cookie, NOW + LIFETIME - timedelta(seconds=1)) is not None
    assert verify(KEY, cookie, NOW + LIFETIME) is None
    assert verify(KEY, cookie, NOW + timedelta(days=30)) is None


def test_a_cookie_issued_in_the_future_is_refused_beyond_a_minute_of_skew() -> None:
    assert verify(KEY, issue(KEY, NOW + timedelta(seconds=30)), NOW) is not None
    assert verify(KEY, issue(KEY, NOW + timedelta(minutes=5)), NOW) is None


def test_a_cookie_signed_with_another_admin_token_is_refused() -> None:
    cookie = issue(session_key("an-old-token"), NOW)
    assert verify(KEY, cookie, NOW) is None


def test_a_changed_payload_breaks_the_signature() -> None:
    body, signature = issue(KEY, NOW).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["iat"] += 3600  # try to extend the session
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    assert verify(KEY, f"{forged}.{signature}", NOW) is None


def test_a_changed_signature_is_refused() -> None:
    body, signature = issue(KEY, NOW).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert verify(KEY, f"{body}.{flipped}", NOW) is None


@pytest.mark.parametrize("cookie", [None, "", "nodot", "a.b.c", "!!!.???", "e30.xyz"])
def test_malformed_cookies_are_refused(cookie: str | None) -> None:
    assert verify(KEY, cookie, NOW) is None


def test_a_signed_payload_without_the_expected_fields_is_refused() -> None:
    import hashlib
    import hmac

    body = base64.urlsafe_b64encode(b'{"sid": "x"}').decode().rstrip("=")
    mac = hmac.new(KEY, body.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    assert verify(KEY, f"{body}.{signature}", NOW) is None


def test_each_session_has_its_own_csrf_token() -> None:
    first = verify(KEY, issue(KEY, NOW), NOW)
    second = verify(KEY, issue(KEY, NOW), NOW)
    assert first is not None and second is not None
    assert first.session_id != second.session_id
    assert first.csrf_token != second.csrf_token
    assert csrf_token(session_key("other"), first.session_id) != first.csrf_token


def test_the_signing_key_is_derived_from_the_admin_token_not_equal_to_it() -> None:
    assert KEY != b"the-admin-token"
    assert session_key("the-admin-token") == KEY
    assert session_key("another-token") != KEY
    assert b"the-admin-token" not in issue(KEY, NOW).encode()


def test_the_admin_token_comparison_needs_a_configured_token() -> None:
    assert token_matches("the-admin-token", "the-admin-token")
    assert token_matches("  the-admin-token \n", "the-admin-token")
    assert not token_matches("the-admin-token", None)
    assert not token_matches("", "")
    assert not token_matches("wrong", "the-admin-token")
