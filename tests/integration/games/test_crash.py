"""The API killed mid-storm: sixteen aggregator clients play bets and wins against a real
API process over the signed protocol; the process is killed with SIGKILL while calls are
in flight and started again on the same database; each client sends every call that got
no answer again, with the same transaction id, until it is answered (as aggregators do).

Then: no transaction id was applied twice, none was lost (every call the clients sent is
recorded once, with one ledger entry when it moved money), each player's balance is what
the answers the clients got add up to, every settled bet reached the wager spine once,
and ``wowsino ledger verify`` is clean."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import ADMIN_TOKEN
from tests.integration.games_support import launch, signed
from tests.integration.support import adjust
from tests.integration.wl_support import login, make_white_label, register
from tests.support.api_process import ApiProcess
from wowsino.kernel.clock import Clock, SystemClock
from wowsino.kernel.jsonio import dumps, loads

pytestmark = pytest.mark.timeout(180)
CLIENTS = 16
FUNDS = Decimal("1000.00")
CALLS_BEFORE_KILL = 120  # answered calls before the kill, and as many after the restart


@pytest.fixture
def clock() -> Clock:
    # the API process runs on the system clock: the game sessions must not expire on it
    return SystemClock()


@pytest.fixture
def api(db_url: str) -> Iterator[ApiProcess]:
    with tempfile.TemporaryDirectory(prefix="wowsino-crash-") as root:
        served = ApiProcess({**os.environ, "WOWSINO_DATABASE_URL": db_url,
                             "WOWSINO_ADMIN_TOKEN": ADMIN_TOKEN, "WOWSINO_DATA_DIR": root,
                             "WOWSINO_DB_POOL_SIZE": "8"}, Path(root))
        try:
            yield served
        finally:
            served.stop()


@dataclass
class Storm:
    """What the clients sent and were answered, shared by them."""

    answered: int = 0
    unanswered: int = 0  # attempts that got no answer (sent again)
    cut: int = 0  # of which sent, and then the connection died: in flight at the kill
    retried: set[str] = field(default_factory=set)  # transaction ids sent more than once
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by transaction id
    amounts: dict[str, tuple[str, Decimal, str]] = field(default_factory=dict)  # kind, player
    last_balance: dict[str, Decimal] = field(default_factory=dict)  # by player
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def send(http: httpx.AsyncClient, storm: Storm, operation: str,
               fields: dict[str, Any]) -> dict[str, Any]:
    """One signed call, sent again (the same bytes) until it is answered."""
    raw = dumps(fields).encode()
    deadline = time.monotonic() + 90
    while True:
        try:
            r = await http.post(f"/v1/aggregator/sandbox/{operation}", content=raw,
                                headers=signed(raw))
            if r.status_code < 500:
                answer: dict[str, Any] = loads(r.content)
                storm.answered += 1
                return answer
        except httpx.ConnectError:
            pass  # nobody listens: the API is down
        except httpx.TransportError:
            storm.cut += 1
        storm.unanswered += 1
        storm.retried.add(fields["transaction_id"])
        assert time.monotonic() < deadline, f"{fields['transaction_id']} was never answered"
        await asyncio.sleep(0.05)


async def play(index: int, token: str, player: str, base: str, storm: Storm) -> None:
    rng = random.Random(index)
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        round_no = 0
        while not storm.stop.is_set():
            round_no += 1
            common = {"token": token, "round_id": f"c{index}-r{round_no}",
                      "game_id": "sandbox-slot", "currency": "USD"}
            stake = Decimal(rng.randint(10, 200)).scaleb(-2)
            won = rng.choice([Decimal(0), Decimal(0), stake * 2, stake])
            for kind, amount in (("bet", stake), ("win", won)):
                tx = f"c{index}-{kind}{round_no}"
                storm.amounts[tx] = (kind, amount, player)
                answer = await send(http, storm, kind, {**common, "transaction_id": tx,
                                                        "amount": amount})
                storm.answers[tx] = answer
                if answer["code"] == "OK":
                    storm.last_balance[player] = answer["balance"]
                elif kind == "bet":
                    break  # a refused bet ends the round


async def until(storm: Storm, answered: int) -> None:
    deadline = time.monotonic() + 60
    while storm.answered < answered:
        assert time.monotonic() < deadline, f"only {storm.answered} calls answered"
        await asyncio.sleep(0.02)


async def test_a_killed_api_applies_every_transaction_once_after_the_clients_retry(
    client: httpx.AsyncClient, api: ApiProcess, engine: Any,
) -> None:
    api.start()  # it starts while the players are set up
    wl = await make_white_label(client)
    seats = []
    for i in range(CLIENTS):
        player = (await register(wl, f"player{i}"))["user_id"]
        session = {"Authorization": f"Bearer {await login(wl, f'player{i}')}"}
        assert (await adjust(wl, f"player{i}", str(FUNDS), reason="deposit")).status_code == 201
        seats.append((player, (await launch(client, session))["token"]))
    await api.ready()

    storm = Storm()
    players = [asyncio.create_task(play(i, token, player, api.base, storm))
               for i, (player, token) in enumerate(seats)]
    try:
        await until(storm, CALLS_BEFORE_KILL)
        killed_wall = SystemClock().now()
        api.kill()  # SIGKILL, calls in flight
        killed_at = storm.answered
        api.start()
        await api.ready()
        await until(storm, killed_at + CALLS_BEFORE_KILL)
    finally:
        storm.stop.set()
        await asyncio.gather(*players)
    assert storm.cut > 0 and storm.retried, "the kill cut no call short"
    async with engine.connect() as conn:
        # calls the kill cut short: applied before it (a retry got the stored answer) or
        # not at all (a retry applied them), never both; counted for the failure message
        applied_before = await conn.scalar(text(
            "SELECT count(*) FROM game_transactions WHERE transaction_id = ANY(:ids) "
            "AND created_at < :at"), {"ids": sorted(storm.retried), "at": killed_wall})
    summary = (f"{storm.answered} answered, {storm.cut} cut by the kill, "
               f"{len(storm.retried)} retried ({applied_before} applied before the kill)")

    # every transaction id the clients sent is recorded exactly once, as answered
    async with engine.connect() as conn:
        rows = dict((await conn.execute(text(
            "SELECT transaction_id, status FROM game_transactions WHERE adapter = 'sandbox'"
        ))).all())
        entries = (await conn.execute(text(
            "SELECT ref_id, count(*) FROM ledger_entries WHERE ref_type = 'game_transaction' "
            "GROUP BY ref_id"))).all()
        wagers = (await conn.execute(text(
            "SELECT source_wager_id, count(*) FROM wager_events GROUP BY source_wager_id"
        ))).all()
        cash = dict((await conn.execute(text(
            "SELECT owner_key, balance FROM ledger_accounts WHERE owner_type = 'player' "
            "AND rail = 'real' AND asset = 'USD'"))).all())
    assert set(rows) == set(storm.answers), f"a transaction was lost or invented: {summary}"
    accepted = {tx for tx, answer in storm.answers.items() if answer["code"] == "OK"}
    assert accepted == {tx for tx, status in rows.items() if status == "accepted"}
    assert len(accepted) > 2 * CALLS_BEFORE_KILL * 0.9
    # one ledger entry per accepted call that moved money, never two
    assert all(count == 1 for _, count in entries), (summary, [e for e in entries if e[1] > 1])
    moving = {tx for tx in accepted if storm.amounts[tx][1] > 0}
    assert {ref for ref, _ in entries} == {f"sandbox:{tx}" for tx in moving}
    # every accepted bet settled with its round's win and reached the spine once
    bets = {tx for tx in accepted if storm.amounts[tx][0] == "bet"}
    assert dict(wagers) == {f"game:sandbox:{tx}": 1 for tx in bets}
    # each balance is what the answers add up to, and what the last answer said
    for player, _ in seats:
        moved = sum((amount if kind == "win" else -amount)
                    for tx, (kind, amount, owner) in storm.amounts.items()
                    if owner == player and tx in accepted)
        assert Decimal(cash[player]).scaleb(-2) == FUNDS + moved == storm.last_balance[player]
    verified = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from wowsino.cli import app; app()", "ledger", "verify"],
        env=api.env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ledger verified" in verified.stdout
