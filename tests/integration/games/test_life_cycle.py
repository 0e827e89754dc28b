"""A game's life cycle against the sandbox aggregator as a separate process: a player
registers, is funded and given a bonus, launches the slot, and ``wowsino sandbox games``
plays 1,000 rounds against the wallet over real HTTP (retries, wins sent twice,
rollbacks, rollbacks of bets never sent). What the simulator recorded equals what the
ledger's game entries moved, to the cent; the ledger verifies; the bonus shows the
wagering the rounds did.

Then a white-label player's whole life in one run, every outside party a real process:
a deposit through the sandbox PSP earns a deposit-match bonus, 1,000 sandbox rounds
complete its wagering and convert it, the sandbox KYC vendor verifies the player, a
withdrawal of everything is approved and paid out by the PSP, and the ledger and the
audit chain verify."""

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
from tests.integration.kyc_support import Vendor, start_vendor, until_decided
from tests.integration.support import adjust, assert_error, body
from tests.integration.wallet_support import Psp, start_psp, until_settled
from tests.integration.wl_support import login, make_white_label, register
from tests.support.events import check_all, stored_events
from tests.support.live_server import free_port, serving
from wowsino.kernel.config import Settings
from wowsino.verify import verify_audit

pytestmark = pytest.mark.timeout(900)
ROUNDS = 1000


@pytest.fixture(scope="module")
def psp() -> Iterator[Psp]:
    found = start_psp("--delay", "0.05", "--retries", "3")
    yield found
    found.stop()


@pytest.fixture(scope="module")
def vendor() -> Iterator[Vendor]:
    found = start_vendor("--delay", "0.05", "--retries", "3")
    yield found
    found.stop()


@pytest.fixture
def wallet_port() -> int:
    """The port the app is served on: the aggregator, the PSP and the KYC vendor call it."""
    return free_port()


@pytest.fixture
def settings(psp: Psp, vendor: Vendor, wallet_port: int) -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, rate_limit_burst=100_000,
                    sandbox_psp_url=psp.url, sandbox_psp_secret=psp.secret,
                    sandbox_kyc_url=vendor.url, sandbox_kyc_secret=vendor.secret,
                    public_url=f"http://127.0.0.1:{wallet_port}")


@pytest.fixture
def simulator_port() -> int:
    return free_port()


@pytest.fixture
def simulator(simulator_port: int, wallet_port: int) -> Iterator[str]:
    """``wowsino sandbox games`` in its own process; its wallet is the port the test
    serves the app on."""
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
    client: httpx.AsyncClient, app: Any, engine: Any, simulator: str, wallet_port: int,
) -> None:
    wl = await make_white_label(client)
    player_id = (await register(wl, "lena"))["user_id"]
    session = {"Authorization": f"Bearer {await login(wl, 'lena')}"}
    assert (await adjust(wl, "lena", "40.00", reason="deposit")).status_code == 201
    made = await template(wl, name="Welcome", amount="100.00", wagering_multiple=30)
    await grant(wl, made["id"], user="lena")
    launched = await launch(client, session)
    async with serving(app, port=wallet_port), httpx.AsyncClient(
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


async def test_a_players_whole_life_deposit_bonus_play_kyc_withdrawal(
    client: httpx.AsyncClient, app: Any, engine: Any, simulator: str, wallet_port: int,
    psp: Psp, vendor: Vendor, db_url: str,
) -> None:
    wl = await make_white_label(client)
    player_id = (await register(wl, "lena"))["user_id"]
    session = {"Authorization": f"Bearer {await login(wl, 'lena')}"}
    made = await template(wl, name="Welcome match", type="deposit_match", amount=None,
                          amount_pct=10, max_amount="20.00", wagering_multiple=30,
                          promo_code="WELCOME10")
    async with serving(app, port=wallet_port), httpx.AsyncClient(
            base_url=simulator, timeout=600) as sim:
        # 1. a deposit through the PSP: its callback credits it, the spine grants the match
        r = await client.post("/v1/player/deposits", headers=session, json={
            "amount": "200.00", "currency": "USD", "method": "card",
            "promo_code": "WELCOME10"})
        assert r.status_code == 201, r.text
        deposit = await until_settled(wl, "deposit", body(r)["deposit"]["id"])
        assert deposit["deposit"]["status"] == "completed", deposit
        [bonus] = await bonuses_of(wl, "lena")
        assert (bonus["template_id"], bonus["status"]) == (made["id"], "active")
        assert bonus["balance"] == Decimal("20.00")
        assert bonus["wagering_required"] == Decimal("600.00")

        # 2. 1,000 rounds of 1.00 at the sandbox slot: the wagering completes on the way
        launched = await launch(client, session)
        r = await sim.post("/play", json={
            "token": launched["token"], "rounds": ROUNDS, "stake": "1.00", "currency": "USD",
            "seed": "whole-life-1", "retry_rate": "0.05", "duplicate_win_rate": "0.05",
            "rollback_rate": "0.02"})
        assert r.status_code == 200, r.text
        played = body(r)
        assert played["rounds"] == ROUNDS and played["stopped"] is None, played
        [bonus] = await bonuses_of(wl, "lena")
        assert (bonus["status"], bonus["end_reason"]) == ("completed", "wagered"), bonus
        # cash first: the 200.00 of cash carried the play, the match's 20.00 became cash
        assert bonus["real_credited"] == Decimal("20.00"), bonus
        assert bonus["wagering_completed"] >= Decimal("600.00"), bonus
        balances = body(await wl.get("/v1/players/lena"))["player"]["balances"]
        assert balances["bonus"].get("USD", 0) == 0
        real = Decimal(balances["real"]["USD"])
        assert real == (Decimal("220.00") - played["bets"] + played["wins"]
                        + played["rollbacks"]), (real, played)

        # 3. no withdrawal before the identity is verified; the vendor verifies it
        withdrawal = {"amount": str(real), "currency": "USD"}
        r = await client.post("/v1/player/withdrawals", headers=session, json=withdrawal)
        assert_error(r, 403, "KYC_REQUIRED")
        r = await client.post("/v1/player/kyc/start", headers=session, json={})
        assert r.status_code == 201, r.text
        await vendor.complete(body(r)["kyc_session"]["verification_url"], "Approve",
                              first_name="Lena")
        kyc = await until_decided(wl, "lena")
        assert (kyc["status"], kyc["level"]) == ("approved", 1), kyc

        # 4. everything out: the operator approves, the PSP pays
        r = await client.post("/v1/player/withdrawals", headers=session, json=withdrawal)
        assert r.status_code == 201, r.text
        out = body(r)["withdrawal"]
        assert out["user"]["user_id"] == player_id
        assert (out["status"], body(r)["real_balance"]) == ("pending", Decimal("0.00"))
        r = await wl.post(f"/v1/withdrawals/{out['id']}/approve", {"reason": "verified"})
        assert r.status_code == 200, r.text
        paid = await until_settled(wl, "withdrawal", out["id"],
                                   waiting=("pending", "approved"))
        assert paid["withdrawal"]["status"] == "completed", paid
        payout = await psp.transaction(paid["withdrawal"]["psp_reference"])
        assert Decimal(str(payout["amount"])) == real, payout

    balances = body(await wl.get("/v1/players/lena"))["player"]["balances"]
    assert balances["real"]["USD"] == 0 and balances["bonus"].get("USD", 0) == 0
    assert await game_movements(engine, wl.id) == {
        "game.bet": played["bets"], "game.win": played["wins"],
        "game.rollback": played["rollbacks"]}
    assert await ledger_problems(engine) == []
    problems, _ = await verify_audit(engine)
    assert problems == []
    assert check_all(await stored_events(db_url)) == []
