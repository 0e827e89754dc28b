"""A game's life cycle against the sandbox aggregator as a separate process: a player
registers, is funded and given a bonus, launches the slot, and ``wowsino sandbox games``
plays 1,000 rounds against the wallet over real HTTP (retries, wins sent twice,
rollbacks, rollbacks of bets never sent). What the simulator recorded equals what the
ledger's game entries moved, to the cent; the ledger verifies; the bonus shows the
wagering the rounds did."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.integration.bonus_support import (
    bonuses_of,
    entries,
    grant,
    ledger_problems,
    template,
)
from tests.integration.games_support import game_movements, launch
from tests.integration.support import adjust, body
from tests.integration.wl_support import login, make_white_label, register
from tests.support.live_server import free_port, serving
from wowsino.kernel.config import Settings

pytestmark = pytest.mark.timeout(900)
ROUNDS = 1000


@pytest.fixture
def settings() -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, rate_limit_burst=100_000)


@pytest.fixture
def simulator_port() -> int:
    return free_port()


@pytest.fixture
def simulator(simulator_port: int, app: Any) -> Iterator[str]:
    """``wowsino sandbox games`` in its own process; its wallet is the port the test
    serves the app on (``WALLET_PORT``, chosen here)."""
    wallet_port = free_port()
    app.state.wallet_port = wallet_port
    with tempfile.TemporaryDirectory(prefix="wowsino-games-") as root:
        log = Path(root) / "simulator.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", "from wowsino.cli import app; app()", "sandbox", "games",
                 "--port", str(simulator_port), "--wallet-url",
                 f"http://127.0.0.1:{wallet_port}"],
                stdout=out, stderr=subprocess.STDOUT, cwd=root,
                env={k: v for k, v in os.environ.items()
                     if k != "WOWSINO_SANDBOX_AGGREGATOR_SECRET"})
        base = f"http://127.0.0.1:{simulator_port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the simulator exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the simulator did not start: {log.read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_a_thousand_rounds_move_exactly_what_the_aggregator_recorded(
    client: httpx.AsyncClient, app: Any, engine: Any, simulator: str,
) -> None:
    wl = await make_white_label(client)
    player_id = (await register(wl, "lena"))["user_id"]
    session = {"Authorization": f"Bearer {await login(wl, 'lena')}"}
    assert (await adjust(wl, "lena", "40.00", reason="deposit")).status_code == 201
    made = await template(wl, name="Welcome", amount="100.00", wagering_multiple=30)
    await grant(wl, made["id"], user="lena")
    launched = await launch(client, session)
    async with serving(app, port=app.state.wallet_port), httpx.AsyncClient(
            base_url=simulator, timeout=600) as sim:
        r = await sim.post("/play", json={
            "token": launched["token"], "rounds": ROUNDS, "stake": "1.00", "currency": "USD",
            "seed": "life-cycle-1", "retry_rate": "0.1", "duplicate_win_rate": "0.1",
            "rollback_rate": "0.05", "ghost_rollback_rate": "0.02"})
        assert r.status_code == 200, r.text
        played = body(r)
        totals = body(await sim.get("/totals"))
    assert played == totals
    assert played["rounds"] == ROUNDS and played["stopped"] is None, played
    assert played["retries"] > 50 and played["duplicate_wins"] > 50, played
    assert played["rollback_count"] > 20 and played["ghost_rollbacks"] > 5, played
    assert played["ghost_bets_refused"] == played["ghost_rollbacks"]
    assert played["inconsistent_replays"] == 0
    assert await game_movements(engine, wl.id) == {
        "game.bet": played["bets"], "game.win": played["wins"],
        "game.rollback": played["rollbacks"]}
    assert await ledger_problems(engine) == []
    # cash first, then bonus: the 40.00 of cash ran out and the bonus money played on
    staked = [e["postings"].get(f"{player_id} bonus USD", 0)
              for e in await entries(engine, "game.bet")]
    assert sum(staked) < 0 and staked[0] == 0, "no bonus money was staked, or staked first"
    balances = body(await wl.get("/v1/players/lena"))["player"]["balances"]
    playable = balances["real"]["USD"] + balances["bonus"]["USD"]
    assert playable == Decimal("140.00") - played["bets"] + played["wins"] + played["rollbacks"]
    [bonus] = await bonuses_of(wl, "lena")
    assert bonus["status"] == "active"
    assert bonus["wagering_completed"] == played["bets"] - played["rollbacks"]
    assert bonus["balance"] == balances["bonus"]["USD"]
