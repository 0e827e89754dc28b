"""The white-label player's own account under ``/v1/player``: profile, email and password,
balances, RG limits, time-outs and self-exclusion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import text

from tests.integration.bonus_support import template
from tests.integration.support import adjust, assert_error, assert_validation, outbox
from tests.integration.wl_support import (
    PASSWORD,
    WhiteLabel,
    login,
    make_white_label,
    player_session,
    register,
)
from wowsino.compliance import engagement, gate
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import Conflict, PlayerBlocked
from wowsino.kernel.realm import Actor, Mode, Realm
from wowsino.pam import exclusion, guard, lockout
from wowsino.worker import JOBS


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def realm_of(wl: WhiteLabel, mode: str = "test") -> Realm:
    return Realm(UUID(wl.id), Mode(mode))


async def profile(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.get("/v1/player/profile", headers=headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["profile"]
    return found


async def job(app: Any, name: str) -> int:
    run = dict(JOBS)[name]
    return await run(app.state.platform)


# --- profile, email, password -----------------------------------------------------------

async def test_profile_shows_the_player_and_never_the_operators_flags(
        client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    r = await wl.post("/v1/players", {"username": "alice", "email": "alice@example.com",
                                      "tags": ["whale"]})
    assert r.status_code == 200, r.text
    shown = await profile(client, me)
    assert shown["username"] == "alice" and shown["email"] == "alice@example.com"
    assert shown["country_code"] == "MT" and shown["date_of_birth"] == "1990-01-01"
    assert (shown["currency"], shown["status"], shown["kyc_status"], shown["kyc_level"]) == (
        "USD", "active", "none", 0)
    assert shown["rg"]["deposit_daily_limit"] is None and shown["rg"]["pending"] == {}
    for internal in ("tags", "risk_band", "is_pep", "is_sanctioned", "external_ref"):
        assert internal not in shown, internal
    # registration answers the same view, to a browser as to a server
    registered = await register(wl, "bob")
    assert set(registered) == set(shown) and registered["username"] == "bob"


async def test_email_change_needs_the_password_and_a_free_address(
        client: httpx.AsyncClient, engine: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    await register(wl, "bob")
    r = await client.patch("/v1/player/profile", headers=me,
                           json={"email": "Alice@New.example", "current_password": "nope nope"})
    assert_error(r, 403, "PASSWORD_MISMATCH")
    r = await client.patch("/v1/player/profile", headers=me,
                           json={"email": "bob@example.com", "current_password": PASSWORD})
    assert_error(r, 409, "EMAIL_TAKEN")
    assert_validation(await client.patch("/v1/player/profile", headers=me, json={
        "email": "not an address", "current_password": PASSWORD}), "email")
    assert_validation(await client.patch("/v1/player/profile", headers=me, json={
        "email": "a@b.example"}), "current_password")
    r = await client.patch("/v1/player/profile", headers=me,
                           json={"email": "Alice@New.example", "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["profile"]["email"] == "alice@new.example"
    assert (await profile(client, me))["email"] == "alice@new.example"
    r = await wl.get("/v1/players/alice")
    assert r.json()["player"]["email"] == "alice@new.example"
    # the old address is free again; the new one is taken for registrations
    await register(wl, "carol", email="alice@example.com")
    r = await client.post("/v1/auth/register", headers=wl.site(), json={
        "username": "dave", "email": "alice@new.example", "password": PASSWORD,
        "country_code": "MT", "date_of_birth": "1990-01-01"})
    assert_error(r, 409, "EMAIL_TAKEN")
    async with engine.connect() as conn:
        audited = (await conn.execute(text(
            "SELECT actor_type, before, after FROM audit_log WHERE action = "
            "'player.email_changed'"))).all()
    assert [(a.actor_type, a.before, a.after) for a in audited] == [
        ("player", {"email": "alice@example.com"}, {"email": "alice@new.example"})]


async def test_password_change_ends_the_other_sessions_and_the_old_password(
        client: httpx.AsyncClient, engine: Any) -> None:
    wl = await make_white_label(client)
    await register(wl, "alice")
    mine, other = await login(wl, "alice"), await login(wl, "alice")
    new = "a much better passphrase"
    r = await client.post("/v1/player/password", headers=bearer(mine),
                          json={"current_password": "wrong password", "new_password": new})
    assert_error(r, 403, "PASSWORD_MISMATCH")
    for weak in ("short", "alice", "ALICE@example.com"):
        assert_validation(await client.post("/v1/player/password", headers=bearer(mine), json={
            "current_password": PASSWORD, "new_password": weak}), "new_password")
    r = await client.post("/v1/player/password", headers=bearer(mine), json={
        "current_password": PASSWORD, "new_password": new, "idempotency_key": "pw-1"})
    assert r.status_code == 200, r.text
    assert r.json()["other_sessions_ended"] == 1
    # a retry after the change answers the stored response, once
    again = await client.post("/v1/player/password", headers=bearer(mine), json={
        "current_password": PASSWORD, "new_password": new, "idempotency_key": "pw-1"})
    assert again.status_code == 200 and again.json()["deduped"] is True, again.text
    assert (await client.get("/v1/player/profile", headers=bearer(mine))).status_code == 200
    assert_error(await client.get("/v1/player/profile", headers=bearer(other)), 401,
                 "AUTH_INVALID")
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "alice", "password": PASSWORD})
    assert_error(r, 401, "INVALID_CREDENTIALS")
    assert (await login(wl, "alice", password=new)).startswith("wps_test_")
    async with engine.connect() as conn:
        actions = (await conn.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'player.password_changed'"))).scalar()
    assert actions == 1


async def test_wrong_current_passwords_count_towards_the_lockout(
        client: httpx.AsyncClient, clock: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    for _ in range(5):
        r = await client.post("/v1/player/password", headers=me, json={
            "current_password": "a wrong guess", "new_password": "another passphrase"})
        assert_error(r, 403, "PASSWORD_MISMATCH")
    r = await client.post("/v1/player/password", headers=me, json={
        "current_password": PASSWORD, "new_password": "another passphrase"})
    assert_error(r, 423, "ACCOUNT_LOCKED")
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "alice", "password": PASSWORD})
    assert_error(r, 423, "ACCOUNT_LOCKED")
    # reading goes on; the lock passes
    assert (await client.get("/v1/player/profile", headers=me)).status_code == 200
    clock.advance(timedelta(minutes=15, seconds=1))
    r = await client.patch("/v1/player/profile", headers=me, json={
        "email": "alice@elsewhere.example", "current_password": PASSWORD})
    assert r.status_code == 200, r.text


async def test_the_worker_forgets_old_login_failures(client: httpx.AsyncClient, app: Any,
                                                     clock: Any, engine: Any) -> None:
    wl = await make_white_label(client)
    await register(wl, "alice")
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "alice", "password": "a wrong guess"})
    assert_error(r, 401, "INVALID_CREDENTIALS")
    assert await job(app, "login_failures_swept") == 0  # still counted
    clock.advance(lockout.WINDOW + lockout.LOCK + timedelta(seconds=1))
    assert await job(app, "login_failures_swept") == 2  # the account's and the address's
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM login_failures"))).scalar() == 0


# --- balances and limits ----------------------------------------------------------------

async def test_balances_are_the_players_own(client: httpx.AsyncClient) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    await register(wl, "bob")
    assert (await adjust(wl, "alice", "12.50")).status_code == 201
    assert (await adjust(wl, "bob", "99.00")).status_code == 201
    assert (await adjust(wl, "alice", "1500", rail="winz", asset="WINZ")).status_code == 201
    r = await client.get("/v1/player/balances", headers=me)
    assert r.status_code == 200, r.text
    assert r.json()["balances"] == {"real": {"USD": 12.5}, "bonus": {"USD": 0},
                                    "winz": {"WINZ": 1500}, "xp": {"XP": 0}}


async def test_limits_tighten_at_once_and_loosen_after_24_hours(
        client: httpx.AsyncClient, app: Any, clock: Any, engine: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    r = await client.post("/v1/player/limits", headers=me,
                          json={"deposit_daily_limit": 100, "session_minutes_limit": 60})
    assert r.status_code == 200, r.text
    assert r.json()["limits"]["deposit_daily_limit"] == 100
    assert {c["limit"]: c["immediate"] for c in r.json()["changes"]} == {
        "deposit_daily_limit": True, "session_minutes_limit": True}
    # tighter: at once; looser: pending for 24 hours, shown with when it applies
    r = await client.post("/v1/player/limits", headers=me, json={"deposit_daily_limit": 50})
    assert r.json()["limits"]["deposit_daily_limit"] == 50
    r = await client.post("/v1/player/limits", headers=me,
                          json={"deposit_daily_limit": 500, "session_minutes_limit": None})
    assert r.status_code == 200, r.text
    shown = r.json()["limits"]
    assert shown["deposit_daily_limit"] == 50 and shown["session_minutes_limit"] == 60
    applies = (clock.now() + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert shown["pending"] == {
        "deposit_daily_limit": {"value": 500, "applies_at": applies},
        "session_minutes_limit": {"value": None, "applies_at": applies}}
    assert (await client.get("/v1/player/limits", headers=me)).json()["limits"] == shown
    # the operator sees the same, and the player is named as the one who asked
    r = await wl.get("/v1/players/alice")
    assert r.json()["player"]["rg"]["pending"] == shown["pending"]
    async with engine.connect() as conn:
        actors = {row[0] for row in await conn.execute(text(
            "SELECT actor_type FROM audit_log WHERE action = 'player.rg_changed'"))}
    assert actors == {"player"}
    clock.advance(timedelta(hours=24, seconds=1))
    assert await job(app, "rg_applied") == 1
    me = bearer(await login(wl, "alice"))  # a day idle ended the session
    shown = (await client.get("/v1/player/limits", headers=me)).json()["limits"]
    assert shown["deposit_daily_limit"] == 500 and shown["session_minutes_limit"] is None
    assert shown["pending"] == {}
    assert_validation(await client.post("/v1/player/limits", headers=me,
                                        json={"deposit_daily_limit": -1}), "deposit_daily_limit")
    assert_validation(await client.post("/v1/player/limits", headers=me,
                                        json={"loss_daily_limit": "0.001"}), "loss_daily_limit")
    assert_validation(await client.post("/v1/player/limits", headers=me,
                                        json={"user_id": "bob"}), "user_id")


# --- time-outs --------------------------------------------------------------------------

async def test_a_timeout_holds_play_and_cannot_be_shortened(
        client: httpx.AsyncClient, app: Any, clock: Any, engine: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    player_id = UUID((await profile(client, me))["user_id"])
    realm = realm_of(wl)

    async def can_play() -> str | None:
        async with read_only(engine) as conn:
            try:
                await guard.require_can_play(conn, realm, player_id, clock.now())
            except PlayerBlocked as refused:
                return refused.code
        return None

    assert await can_play() is None
    r = await client.post("/v1/player/timeout", headers=me, json={"period": "7d"})
    assert r.status_code == 200, r.text
    until = clock.now() + timedelta(days=7)
    assert r.json()["timeout"] == {"period": "7d",
                                   "until": until.isoformat().replace("+00:00", "Z")}
    assert await can_play() == "TIMED_OUT"
    async with read_only(engine) as conn:
        assert await engagement.holds(conn, realm, [player_id], clock.now()) == {
            player_id: "timeout"}
    # the player may still log in and read
    assert (await client.get("/v1/player/balances", headers=me)).status_code == 200
    assert (await login(wl, "alice")).startswith("wps_")
    # shorter: refused, here and through the limits; longer: extends
    r = await client.post("/v1/player/timeout", headers=me, json={"period": "24h"})
    assert_error(r, 409, "TIMEOUT_ACTIVE")
    for shorter in (None, (clock.now() + timedelta(days=1)).isoformat()):
        r = await client.post("/v1/player/limits", headers=me, json={"timeout_until": shorter})
        assert_error(r, 409, "TIMEOUT_ACTIVE")
    r = await client.post("/v1/player/timeout", headers=me, json={"period": "30d"})
    assert r.status_code == 200, r.text
    assert_validation(await client.post("/v1/player/timeout", headers=me,
                                        json={"period": "1h"}), "period")
    clock.advance(timedelta(days=8))
    assert await can_play() == "TIMED_OUT"
    clock.advance(timedelta(days=22, seconds=1))
    assert await can_play() is None


async def test_the_guard_names_each_refusal(client: httpx.AsyncClient, engine: Any,
                                            clock: Any) -> None:
    wl = await make_white_label(client)
    await register(wl, "alice")
    player_id = UUID((await wl.get("/v1/players/alice")).json()["player"]["user_id"])
    realm = realm_of(wl)
    for status, code in (("withdrawal_hold", None), ("fraud_hold", "PLAYER_BLOCKED"),
                         ("suspended", "PLAYER_BLOCKED"), ("self_excluded", "SELF_EXCLUDED"),
                         ("active", None)):
        r = await wl.patch("/v1/players/alice/status", {"status": status, "reason": "check"})
        assert r.status_code == 200, r.text
        for action in (gate.Action.DRAW, gate.Action.DEPOSIT):
            async with read_only(engine) as conn:
                try:
                    await guard.require_can(conn, realm, player_id, clock.now(), action)
                    found = None
                except PlayerBlocked as refused:
                    found = refused.code
            assert found == code, (status, action, found)


# --- self-exclusion ---------------------------------------------------------------------

async def test_self_exclusion_ends_sessions_forfeits_bonuses_and_refuses_login(
        client: httpx.AsyncClient, app: Any, clock: Any, engine: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    other = bearer(await login(wl, "alice"))
    welcome = await template(wl, amount="10.00", wagering_multiple=10)
    r = await wl.post("/v1/bonuses/grant", {"player_id": "alice", "template": welcome["id"]})
    assert r.status_code == 201, r.text
    bonus_id = r.json()["bonus"]["id"]
    assert (await client.get("/v1/player/balances", headers=me)).json()["balances"][
        "bonus"] == {"USD": 10}
    assert_validation(await client.post("/v1/player/self-exclude", headers=me,
                                        json={"period": "2w"}), "period")
    r = await client.post("/v1/player/self-exclude", headers=me, json={"period": "6m"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["self_exclusion"]["period"] == "6m"
    assert answer["self_exclusion"]["until"] == "2026-07-01T12:00:00Z"
    assert answer["sessions_ended"] == 2 and answer["bonuses_forfeited"] == [bonus_id]
    # every session ended; the old tokens say why; no new login
    for headers in (me, other):
        assert_error(await client.get("/v1/player/profile", headers=headers), 403,
                     "SELF_EXCLUDED")
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "alice", "password": PASSWORD})
    assert_error(r, 403, "SELF_EXCLUDED")
    async with engine.connect() as conn:
        live = (await conn.execute(text(
            "SELECT count(*) FROM player_sessions WHERE revoked_at IS NULL"))).scalar()
    assert live == 0
    # the bonus was forfeited by the bonus engine: its money is gone, its event sent
    r = await wl.get("/v1/players/alice")
    dossier = r.json()["player"]
    assert dossier["status"] == "self_excluded" and dossier["active_bonuses"] == []
    assert dossier["balances"]["bonus"] == {"USD": 0}
    assert dossier["self_exclusion"]["period"] == "6m"
    [forfeited] = await outbox(engine, wl.id, "test", "bonus.forfeited")
    assert forfeited["bonus_id"] == bonus_id and forfeited["reason"] == "self_excluded"
    [excluded] = await outbox(engine, wl.id, "test", "player.self_excluded")
    assert excluded == {"user": {"user_id": dossier["user_id"], "username": "alice"},
                        "period": "6m", "until": "2026-07-01T12:00:00Z"}
    [changed] = await outbox(engine, wl.id, "test", "player.status_changed")
    assert (changed["from"], changed["to"]) == ("active", "self_excluded")
    # engagement holds the player
    async with read_only(engine) as conn:
        held = await engagement.holds(conn, realm_of(wl), [UUID(dossier["user_id"])],
                                      clock.now())
    assert set(held.values()) == {"self_excluded"}


async def test_the_operator_cannot_undo_a_running_self_exclusion(
        client: httpx.AsyncClient, app: Any, clock: Any, engine: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    r = await client.post("/v1/player/self-exclude", headers=me, json={"period": "1y"})
    assert r.status_code == 200, r.text
    for status in ("active", "suspended", "withdrawal_hold"):
        r = await wl.patch("/v1/players/alice/status", {"status": status, "reason": "asked"})
        assert_error(r, 409, "SELF_EXCLUSION_ACTIVE")
    r = await wl.get("/v1/players/alice")
    assert r.json()["player"]["status"] == "self_excluded"
    assert await job(app, "self_exclusions_ended") == 0
    clock.advance(timedelta(days=364))
    assert await job(app, "self_exclusions_ended") == 0
    assert_error(await wl.patch("/v1/players/alice/status",
                                {"status": "active", "reason": "asked"}), 409,
                 "SELF_EXCLUSION_ACTIVE")
    # at its end the worker lifts it: back to active, audited, announced
    clock.advance(timedelta(days=1, seconds=1))
    assert await job(app, "self_exclusions_ended") == 1
    assert await job(app, "self_exclusions_ended") == 0
    dossier = (await wl.get("/v1/players/alice")).json()["player"]
    assert dossier["status"] == "active" and dossier["self_exclusion"] is None
    [ended] = await outbox(engine, wl.id, "test", "player.self_exclusion_ended")
    assert ended == {"user": {"user_id": dossier["user_id"], "username": "alice"},
                     "period": "1y", "until": "2027-01-01T12:00:00Z"}
    changes = [(c["from"], c["to"])
               for c in await outbox(engine, wl.id, "test", "player.status_changed")]
    assert changes == [("active", "self_excluded"), ("self_excluded", "active")]
    async with engine.connect() as conn:
        lifted = (await conn.execute(text(
            "SELECT actor_type FROM audit_log WHERE action = 'player.self_exclusion_ended'")
        )).all()
    assert [row.actor_type for row in lifted] == ["system"]
    # the old sessions stay ended; a new login works
    assert_error(await client.get("/v1/player/profile", headers=me), 401, "AUTH_INVALID")
    assert (await login(wl, "alice")).startswith("wps_")
    # and the operator's hands are free again
    r = await wl.patch("/v1/players/alice/status", {"status": "suspended", "reason": "check"})
    assert r.status_code == 200, r.text


async def test_a_permanent_self_exclusion_never_ends(client: httpx.AsyncClient, app: Any,
                                                     clock: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    r = await client.post("/v1/player/self-exclude", headers=me, json={"period": "permanent"})
    assert r.status_code == 200, r.text
    assert r.json()["self_exclusion"]["until"] is None
    clock.advance(timedelta(days=366 * 50))
    assert await job(app, "self_exclusions_ended") == 0
    assert_error(await wl.patch("/v1/players/alice/status",
                                {"status": "active", "reason": "asked"}), 409,
                 "SELF_EXCLUSION_ACTIVE")
    # closing the account stays possible
    r = await wl.patch("/v1/players/alice/status", {"status": "closed", "reason": "closed"})
    assert r.status_code == 200, r.text
    r = await client.post("/v1/auth/login", headers=wl.site(),
                          json={"username": "alice", "password": PASSWORD})
    assert_error(r, 403, "PLAYER_BLOCKED")


async def test_a_closed_account_stays_closed_when_the_exclusion_ends(
        client: httpx.AsyncClient, app: Any, clock: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    assert (await client.post("/v1/player/self-exclude", headers=me,
                              json={"period": "6m"})).status_code == 200
    assert (await wl.patch("/v1/players/alice/status",
                           {"status": "closed", "reason": "asked"})).status_code == 200
    clock.advance(timedelta(days=200))
    assert await job(app, "self_exclusions_ended") == 1
    dossier = (await wl.get("/v1/players/alice")).json()["player"]
    assert dossier["status"] == "closed" and dossier["self_exclusion"] is None


async def test_a_running_self_exclusion_may_only_grow(client: httpx.AsyncClient, app: Any,
                                                      clock: Any, engine: Any) -> None:
    """The player cannot log in while excluded; the rule holds for whoever asks."""
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    player_id = UUID((await profile(client, me))["user_id"])
    assert (await client.post("/v1/player/self-exclude", headers=me,
                              json={"period": "1y"})).status_code == 200
    actor = Actor("player", str(player_id))

    async def again(period: str) -> dict[str, Any]:
        return await unit_of_work(engine, lambda conn: exclusion.self_exclude(
            conn, realm=realm_of(wl), brand_id=UUID(wl.brand_id), player_id=player_id,
            period=period, actor=actor, at=clock.now()))

    clock.advance(timedelta(days=30))
    with pytest.raises(Conflict) as refused:
        await again("6m")
    assert refused.value.code == "SELF_EXCLUSION_ACTIVE"
    longer = await again("5y")
    assert longer["self_exclusion"]["until"] == datetime(2031, 1, 31, 12, tzinfo=UTC)
    clock.advance(timedelta(days=366 * 2))
    assert await job(app, "self_exclusions_ended") == 0
    clock.advance(timedelta(days=366 * 3))
    assert await job(app, "self_exclusions_ended") == 1
    assert (await wl.get("/v1/players/alice")).json()["player"]["status"] == "active"


async def test_an_operators_blocking_status_ends_the_sessions(
        client: httpx.AsyncClient, engine: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")
    for status in ("self_excluded", "closed", "suspended"):
        r = await wl.patch("/v1/players/alice/status", {"status": status, "reason": "check"})
        assert r.status_code == 200, r.text
        async with engine.connect() as conn:
            live = (await conn.execute(text(
                "SELECT count(*) FROM player_sessions WHERE revoked_at IS NULL"))).scalar()
        assert live == 0, status
        r = await wl.patch("/v1/players/alice/status", {"status": "active", "reason": "ok"})
        assert r.status_code == 200, r.text
        # the ended session does not come back with the status
        assert_error(await client.get("/v1/player/profile", headers=me), 401, "AUTH_INVALID")
        me = bearer(await login(wl, "alice"))


async def test_months_are_calendar_months() -> None:
    at = datetime(2026, 8, 31, 9, 30, tzinfo=UTC)
    assert exclusion.end_of("6m", at) == datetime(2027, 2, 28, 9, 30, tzinfo=UTC)
    assert exclusion.end_of("1y", datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
        2029, 2, 28, tzinfo=UTC)
    assert exclusion.end_of("5y", at) == datetime(2031, 8, 31, 9, 30, tzinfo=UTC)
    assert exclusion.end_of("permanent", at) is None


BAD_INPUT: list[tuple[str, str, Any, str]] = [
    ("PATCH", "/v1/player/profile", {"email": "a@b.example"}, "current_password"),
    ("PATCH", "/v1/player/profile", {"email": None, "current_password": PASSWORD}, "email"),
    ("PATCH", "/v1/player/profile", {"email": "x" * 300 + "@b.example",
                                     "current_password": PASSWORD}, "email"),
    ("PATCH", "/v1/player/profile", {"current_password": PASSWORD, "username": "eve"},
     "username"),
    ("POST", "/v1/player/password", {"current_password": PASSWORD}, "new_password"),
    ("POST", "/v1/player/password", {"current_password": PASSWORD, "new_password": 12345678901},
     "new_password"),
    ("POST", "/v1/player/password", {"current_password": "", "new_password": "long enough!"},
     "current_password"),
    ("POST", "/v1/player/password", {"current_password": PASSWORD,
                                     "new_password": "y" * 257}, "new_password"),
    ("POST", "/v1/player/limits", {"deposit_daily_limit": "1e30"}, "deposit_daily_limit"),
    ("POST", "/v1/player/limits", {"wager_daily_limit": True}, "wager_daily_limit"),
    ("POST", "/v1/player/limits", {"session_minutes_limit": 1441}, "session_minutes_limit"),
    ("POST", "/v1/player/limits", {"timeout_until": "2020-01-01T00:00:00Z"}, "timeout_until"),
    ("POST", "/v1/player/limits", {"timeout_until": "9999-12-31T23:59:59-14:00"},
     "timeout_until"),
    ("POST", "/v1/player/timeout", {}, "period"),
    ("POST", "/v1/player/timeout", {"period": 24}, "period"),
    ("POST", "/v1/player/timeout", {"period": "7d", "until": "tomorrow"}, "until"),
    ("POST", "/v1/player/self-exclude", {"period": "forever"}, "period"),
    ("POST", "/v1/player/self-exclude", {"period": None}, "period"),
    ("POST", "/v1/player/self-exclude", [], "body"),
]


async def test_bad_input_is_a_400_naming_the_field_before_any_effect(
        client: httpx.AsyncClient, engine: Any) -> None:
    wl = await make_white_label(client)
    me = await player_session(wl, "alice")

    async def state() -> tuple[Any, ...]:
        async with engine.connect() as conn:
            player = (await conn.execute(text(
                "SELECT email, status, rg, updated_at FROM players"))).one()
            audited = (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar()
            failures = (await conn.execute(text("SELECT count(*) FROM login_failures"))
                        ).scalar()
        return tuple(player), audited, failures

    before = await state()
    for method, path, payload, field in BAD_INPUT:
        r = await client.request(method, path, headers=me, json=payload)
        assert_validation(r, field)
    assert await state() == before
