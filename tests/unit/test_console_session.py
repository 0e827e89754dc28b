"""Console session primitives: the cookie is a random id (the server holds the session),
each session has its own CSRF token derived from it, and the admin token comparison."""

from __future__ import annotations

import re

from wowsino.console.auth import LIFETIME, csrf_token, new_session_id, token_matches
from wowsino.console.sessions import IDLE, id_hash, token_fingerprint


def test_a_session_id_is_32_random_bytes_in_base64url() -> None:
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", sid) for sid in ids)


def test_the_session_lasts_twelve_hours_and_thirty_idle_minutes() -> None:
    assert LIFETIME.total_seconds() == 12 * 3600
    assert IDLE.total_seconds() == 30 * 60


def test_each_session_has_its_own_csrf_token_which_does_not_reveal_the_session_id() -> None:
    first, second = new_session_id(), new_session_id()
    assert csrf_token(first) != csrf_token(second)
    assert csrf_token(first) == csrf_token(first)
    assert re.fullmatch(r"[0-9a-f]{64}", csrf_token(first))
    assert first not in csrf_token(first)


def test_the_server_keeps_only_a_hash_of_the_session_id() -> None:
    sid = new_session_id()
    assert len(id_hash(sid)) == 32 and sid.encode() not in id_hash(sid)


def test_the_token_fingerprint_is_not_the_token() -> None:
    assert token_fingerprint("the-admin-token") == token_fingerprint("the-admin-token")
    assert token_fingerprint("the-admin-token") != token_fingerprint("another-token")
    assert b"the-admin-token" not in token_fingerprint("the-admin-token")


def test_the_admin_token_comparison_needs_a_configured_token() -> None:
    assert token_matches("the-admin-token", "the-admin-token")
    assert token_matches("  the-admin-token \n", "the-admin-token")
    assert not token_matches("the-admin-token", None)
    assert not token_matches("", "")
    assert not token_matches("wrong", "the-admin-token")
