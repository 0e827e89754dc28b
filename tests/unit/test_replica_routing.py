"""Where a read runs: the routing decision on sampled positions, read-your-writes marks,
the consistency header, and the replica settings refused at start-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from wowsino.kernel.config import MAX_REPLICAS, Settings, SettingsError
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.realm import Mode, Realm
from wowsino.kernel.replicas import (
    ReadRouter,
    Replica,
    Sample,
    caught_up_to,
    consistency,
    display_name,
    poll_interval,
    usable,
    writer_of,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def replica(name: str = "r1", *, up: bool = True, caught_up_at: float | None = None) -> Replica:
    return Replica(name, engine=None, up=up, caught_up_at=caught_up_at)  # type: ignore[arg-type]


def router(*replicas: Replica, max_lag_ms: int = 1000) -> tuple[ReadRouter, Clock]:
    clock = Clock()
    return ReadRouter(None, list(replicas), max_lag_ms, clock=clock), clock  # type: ignore[arg-type]


# --- the decision ---------------------------------------------------------------------------

def test_a_replica_is_usable_only_when_up_caught_up_and_within_the_bound() -> None:
    assert usable(replica(caught_up_at=99.5), now=100.0, max_lag=1.0, written_at=None)
    assert usable(replica(caught_up_at=99.0), now=100.0, max_lag=1.0, written_at=None)
    assert not usable(replica(caught_up_at=98.9), now=100.0, max_lag=1.0, written_at=None)
    assert not usable(replica(caught_up_at=None), now=100.0, max_lag=1.0, written_at=None)
    assert not usable(replica(up=False, caught_up_at=100.0), now=100.0, max_lag=1.0,
                      written_at=None)


def test_a_writer_reads_a_replica_only_once_it_has_caught_up_past_the_write() -> None:
    fresh = replica(caught_up_at=99.9)
    assert not usable(fresh, now=100.0, max_lag=1.0, written_at=99.9)  # same instant: not after
    assert not usable(fresh, now=100.0, max_lag=1.0, written_at=99.95)
    assert usable(fresh, now=100.0, max_lag=1.0, written_at=99.8)


def test_the_router_sends_a_writer_to_the_primary_until_a_sample_after_its_write() -> None:
    r1 = replica(caught_up_at=99.9)
    reads, clock = router(r1)
    writer, other = ("realm", "api_key:a"), ("realm", "api_key:b")
    assert reads.choose(writer) is r1
    reads.mark_write(writer)  # committed at 100.0
    assert reads.choose(writer) is None
    assert reads.choose(other) is r1  # another caller: bounded staleness only
    assert reads.choose(None) is r1
    r1.caught_up_at = 100.05  # a sample taken after the write, replayed
    clock.now = 100.1
    assert reads.choose(writer) is r1


def test_the_router_takes_turns_among_usable_replicas_and_skips_the_others() -> None:
    a, b = replica("a", caught_up_at=99.8), replica("b", caught_up_at=99.9)
    late = replica("late", caught_up_at=90.0)
    down = replica("down", up=False, caught_up_at=99.9)
    reads, _ = router(a, late, b, down)
    chosen = [reads.choose(None) for _ in range(4)]
    assert [r.name for r in chosen if r] == ["a", "b", "a", "b"]
    a.up = b.up = False
    assert reads.choose(None) is None


def test_without_replicas_every_read_is_the_primarys_and_no_write_is_remembered() -> None:
    reads, _ = router()
    reads.mark_write(("realm", "api_key:a"))
    assert reads.written == {}
    assert reads.choose(("realm", "api_key:a")) is None


def test_a_replica_catches_up_to_the_newest_sample_it_has_replayed() -> None:
    samples = [Sample(1.0, 100), Sample(1.1, 250), Sample(1.2, 250), Sample(1.3, 400)]
    assert caught_up_to(samples, 99) is None
    assert caught_up_to(samples, 100) == 1.0
    assert caught_up_to(samples, 300) == 1.2  # an idle primary: the newest equal position
    assert caught_up_to(samples, 10_000) == 1.3


def test_an_idle_primary_with_unflushed_wal_is_flushed_on_the_second_sample() -> None:
    reads, _ = router(replica())
    assert not reads._stuck(500, 500)
    assert not reads._stuck(600, 500)  # inserted, not flushed yet: the wal writer may
    assert not reads._stuck(700, 600)  # still moving: not stuck
    assert reads._stuck(700, 600)  # nothing new, still unflushed: commit to flush it
    assert not reads._stuck(710, 710)


def test_staleness_is_the_age_of_the_newest_sample_reached() -> None:
    assert replica(caught_up_at=99.25).staleness(100.0) == pytest.approx(0.75)
    assert replica(up=False, caught_up_at=99.25).staleness(100.0) is None
    assert poll_interval(1000) == pytest.approx(0.1)
    assert poll_interval(100) == pytest.approx(0.025)
    assert poll_interval(600_000) == pytest.approx(0.25)


# --- who is the writer, and the header ------------------------------------------------------

def test_the_writer_is_the_credential_within_its_realm_or_the_console_session() -> None:
    realm = Realm(uuid4(), Mode.TEST)
    key = SimpleNamespace(realm=realm, actor=SimpleNamespace(label="api_key:k1"))
    player = SimpleNamespace(realm=realm, actor=SimpleNamespace(label="player:p1"))
    session = SimpleNamespace(public_id=uuid4())
    assert writer_of({"principal": key}) == (realm, "api_key:k1")
    assert writer_of({"principal": player}) == (realm, "player:p1")
    assert writer_of({"console_session": session}) == ("console", session.public_id)
    assert writer_of({}) is None
    assert writer_of({"console_session": None}) is None


@pytest.mark.parametrize(("value", "chosen"), [
    (None, "bounded"), ("bounded", "bounded"), ("strong", "strong"), (" Strong ", "strong"),
])
def test_the_consistency_header_takes_bounded_or_strong(value: str | None, chosen: str) -> None:
    assert consistency(value) == chosen


@pytest.mark.parametrize("value", ["", "fresh", "eventual", "strong,bounded"])
def test_any_other_consistency_is_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        consistency(value)
    assert raised.value.details == {"field": "X-Read-Consistency"}


def test_a_replica_is_named_without_its_credentials() -> None:
    assert display_name("postgresql://app:s3cret@db-2.internal:6432/wowsino") == \
        "db-2.internal:6432/wowsino"
    assert display_name("postgres://db-3/wowsino") == "db-3:5432/wowsino"


# --- settings ---------------------------------------------------------------------------------

def settings_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in ("WOWSINO_REPLICA_URLS", "WOWSINO_REPLICA_MAX_LAG_MS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_replica_settings_default_to_none_and_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch)
    assert settings.replica_urls == ()
    assert settings.replica_max_lag_ms == 1000


def test_replica_urls_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch, WOWSINO_REPLICA_URLS=" postgresql://a:b@r1:5432/w , postgres://r2/w,,"
                                          "postgresql+asyncpg://r3:6432/w",
        WOWSINO_REPLICA_MAX_LAG_MS="250")
    assert settings.replica_urls == ("postgresql://a:b@r1:5432/w", "postgres://r2/w",
                                     "postgresql+asyncpg://r3:6432/w")
    assert settings.replica_max_lag_ms == 250


@pytest.mark.parametrize(("urls", "message"), [
    ("postgresql://r1/w,mysql://user:hunter2@r2/w", "entry 2 is not a PostgreSQL URL"),
    ("postgresql:///w", "entry 1 is not a PostgreSQL URL"),
    ("r1:5432", "entry 1 is not a PostgreSQL URL"),
    ("postgresql://user:hunter2@r1:port/w", "entry 1 is not a PostgreSQL URL"),
    ("postgresql://r1/w,postgresql://r1/w", "names a replica twice"),
    (",".join(f"postgresql://r{i}/w" for i in range(MAX_REPLICAS + 1)), f"at most {MAX_REPLICAS}"),
])
def test_a_bad_replica_url_refuses_to_start_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, urls: str, message: str,
) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from(monkeypatch, WOWSINO_REPLICA_URLS=urls)
    assert message in str(raised.value)
    assert "WOWSINO_REPLICA_URLS" in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("value", ["abc", "99", "600001", "-1", "1.5"])
def test_the_staleness_bound_is_bounded(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(SettingsError, match="WOWSINO_REPLICA_MAX_LAG_MS must be a whole number "
                                            "from 100 to 600000"):
        settings_from(monkeypatch, WOWSINO_REPLICA_MAX_LAG_MS=value)


@pytest.mark.parametrize("value", ["100", "600000"])
def test_the_bounds_themselves_are_accepted(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    assert settings_from(monkeypatch, WOWSINO_REPLICA_MAX_LAG_MS=value).replica_max_lag_ms == \
        int(value)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("WOWSINO_REPLICA_URLS", "replica.internal:5432",
     "WOWSINO_REPLICA_URLS: entry 1 is not a PostgreSQL URL"),
    ("WOWSINO_RATE_LIMIT_STORE", "shared", "WOWSINO_RATE_LIMIT_STORE must be memory, postgres"),
])
def test_a_command_refuses_to_start_on_a_setting_it_cannot_use(
    tmp_path: Path, name: str, value: str, says: str,
) -> None:
    beside = Path(sys.executable).with_name("wowsino")
    command = str(beside) if beside.exists() else shutil.which("wowsino")
    assert command, "the wowsino command is not installed"
    env: dict[str, Any] = {**os.environ, name: value, "WOWSINO_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([command, "migrate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"Refusing to start: {says}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # refused before any database was started


def test_shared_writes_are_seen_by_every_process_that_maps_the_table(tmp_path: Path) -> None:
    """Two mappings of one table (as two API processes hold it): a write marked through
    one is read through the other, a slot keeps the latest time, and another process's
    interpreter (its own hash seed) finds the writer in the same slot."""
    from wowsino.kernel.replicas import SharedWrites

    writer = (Realm(uuid4(), Mode.TEST), "key:wsk_test_abc")
    one = SharedWrites.create(str(tmp_path / "shared-writes"))
    other = SharedWrites(one.path)
    try:
        assert other.written_at(writer) is None
        one.mark(writer, 100.0)
        assert other.written_at(writer) == 100.0
        other.mark(writer, 50.0)  # an earlier time never moves a slot back
        assert one.written_at(writer) == 100.0
        other.mark(writer, 150.5)
        assert one.written_at(writer) == 150.5
        code = ("import sys, uuid; from wowsino.kernel.realm import Mode, Realm; "
                "from wowsino.kernel.replicas import SharedWrites; "
                "t = SharedWrites(sys.argv[1]); "
                f"print(t.written_at((Realm(uuid.UUID({str(writer[0].tenant_id)!r}), "
                "Mode.TEST), 'key:wsk_test_abc')))")
        seen = subprocess.run([sys.executable, "-c", code, one.path], capture_output=True,
                              text=True, check=True, env={**os.environ,
                                                          "PYTHONHASHSEED": "12345"})
        assert seen.stdout.strip() == "150.5"
    finally:
        other.close()
        one.close(remove=True)
    assert not Path(one.path).exists()
    left = tmp_path / "left-by-a-killed-serve"
    stale = SharedWrites.create(str(left))
    stale.mark(writer, 7.0)
    stale.close()  # not removed: the next serve empties it
    again = SharedWrites.create(str(left))
    assert again.written_at(writer) is None
    again.close(remove=True)
