"""The sandbox game aggregator: a game server stand-in that plays rounds against the
platform's seamless wallet like a real aggregator does (``wowsino sandbox games --port
8020``), for demos and tests.

Games and their published returns to player (RTP):

- ``sandbox-slot`` (slots), RTP 96.00%: each spin pays ``stake × multiplier`` with the
  multiplier drawn from ``SLOT_PAYTABLE`` (weights out of 10,000; ``Σ weight ×
  multiplier = 9,600``); a spin pays something 43.46% of the time.
- ``sandbox-roulette`` (table), RTP 97.30% (36/37): an even-money bet on red, paid
  twice the stake on 18 of 37 pockets.

Draws come from the platform's provably fair byte stream (``kernel.fairness``), seeded
by the play's ``seed``: the same seed plays the same rounds.

- ``POST /play {token, rounds, stake, currency, game_id?, seed?, retry_rate?,
  duplicate_win_rate?, rollback_rate?, ghost_rollback_rate?}`` plays ``rounds`` rounds for
  a launched game's token and answers what it sent and what the wallet answered. Each
  round is a bet (sent twice at ``retry_rate``, as after a timeout), then either a
  rollback of that bet (at ``rollback_rate``) or its win (0 for a loss; sent twice at
  ``duplicate_win_rate``). At ``ghost_rollback_rate`` a round also rolls back a bet the
  wallet never saw, then sends that bet, which the wallet must refuse. Play stops when
  the wallet refuses a bet (out of money, a limit).
- ``GET /totals``: the totals of every play since the process started: ``bets`` (the
  stakes the wallet accepted), ``wins`` (the wins it accepted), ``rollbacks`` (the stakes
  of accepted bets rolled back), each counted once however often it was sent.
- ``GET /games/<game_id>?token=…``: the launch page a player's browser opens: the
  playable balance and a button that plays one round (``POST /play``) at the stake given.
- ``GET /balance?token=…``: the wallet's answer to a balance call for the token (the
  launch page shows it).

Every wallet call is ``POST <wallet_url>/v1/aggregator/sandbox/<operation>`` signed with
``X-Signature``: lowercase hex HMAC-SHA256 of the raw body with the shared secret.
"""

from __future__ import annotations

import hashlib
import html
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from wowsino.kernel.fairness import ByteStream, uniform_int, weighted_pick
from wowsino.kernel.jsonio import MoneyJSONResponse, dumps, loads
from wowsino.kernel.vendors import sign

log = structlog.get_logger("wowsino.sandbox.games")

# (weight out of 10,000, multiplier of the stake): RTP = Σ weight × multiplier / 10,000
SLOT_PAYTABLE = ((5654, 0), (2500, 1), (1000, 2), (500, 3), (200, 5), (100, 10), (40, 25),
                 (6, 100))
ROULETTE_POCKETS, ROULETTE_RED = 37, 18
RTP = {
    "sandbox-slot": Decimal(sum(w * m for w, m in SLOT_PAYTABLE)) / 100,
    "sandbox-roulette": (Decimal(2 * ROULETTE_RED) / ROULETTE_POCKETS * 100).quantize(
        Decimal("0.01")),
}
MAX_ROUNDS = 100_000
ATTEMPTS = 3  # a call that gets no answer is sent again, as aggregators do


@dataclass(frozen=True)
class Options:
    wallet_url: str  # the platform's address
    secret: str


@dataclass
class Totals:
    """What a play sent and what the wallet answered; amounts in the currency's unit."""

    rounds: int = 0
    bets: Decimal = Decimal(0)
    wins: Decimal = Decimal(0)
    rollbacks: Decimal = Decimal(0)
    bet_count: int = 0
    win_count: int = 0
    rollback_count: int = 0
    retries: int = 0
    duplicate_wins: int = 0
    ghost_rollbacks: int = 0
    ghost_bets_refused: int = 0
    inconsistent_replays: int = 0
    stopped: str | None = None
    answers: dict[str, int] = field(default_factory=dict)

    def add(self, other: Totals) -> None:
        for name in ("rounds", "bets", "wins", "rollbacks", "bet_count", "win_count",
                     "rollback_count", "retries", "duplicate_wins", "ghost_rollbacks",
                     "ghost_bets_refused", "inconsistent_replays"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, count in other.answers.items():
            self.answers[code] = self.answers.get(code, 0) + count

    def view(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class Refused(Exception):
    """A play's request the simulator cannot play."""


@dataclass
class Play:
    """One ``POST /play``: its settings and its draws."""

    token: str
    rounds: int
    stake: Decimal
    currency: str
    game_id: str
    stream: ByteStream
    rates: dict[str, int]  # per 10,000
    id: str = field(default_factory=lambda: secrets.token_hex(6))

    def chance(self, name: str) -> bool:
        return uniform_int(self.stream, 10_000) < self.rates[name]

    def win(self) -> Decimal:
        if self.game_id == "sandbox-roulette":
            red = uniform_int(self.stream, ROULETTE_POCKETS) < ROULETTE_RED
            return self.stake * 2 if red else Decimal(0)
        multiplier = SLOT_PAYTABLE[weighted_pick(self.stream, [w for w, _ in SLOT_PAYTABLE])][1]
        return self.stake * multiplier


def _rate(body: dict[str, Any], name: str, default: str) -> int:
    try:
        value = Decimal(str(body.get(name, default)))
    except InvalidOperation:
        raise Refused(f"{name}: a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise Refused(f"{name}: a number from 0 to 1")
    return int(value * 10_000)


def read_play(body: Any) -> Play:
    if not isinstance(body, dict):
        raise Refused("the body is a JSON object")
    token, game_id = body.get("token"), body.get("game_id", "sandbox-slot")
    if not isinstance(token, str) or not token:
        raise Refused("token: the launched game's token")
    if game_id not in RTP:
        raise Refused(f"game_id: one of {sorted(RTP)}")
    rounds = body.get("rounds")
    if not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        raise Refused(f"rounds: 1 to {MAX_ROUNDS}")
    try:
        stake = Decimal(str(body.get("stake")))
    except InvalidOperation:
        raise Refused("stake: a positive amount") from None
    if not stake.is_finite() or stake <= 0:
        raise Refused("stake: a positive amount")
    currency = body.get("currency")
    if not isinstance(currency, str) or not currency:
        raise Refused("currency: the session's currency")
    seed = str(body.get("seed", secrets.token_hex(8)))
    server_seed = hashlib.sha256(seed.encode()).hexdigest()
    return Play(token, rounds, stake, currency, game_id,
                ByteStream(server_seed, "wowsino-sandbox-games"), {
                    "retry": _rate(body, "retry_rate", "0.1"),
                    "duplicate_win": _rate(body, "duplicate_win_rate", "0.1"),
                    "rollback": _rate(body, "rollback_rate", "0.05"),
                    "ghost": _rate(body, "ghost_rollback_rate", "0.02")})


class SandboxGames:
    """The service: its totals live in memory, for as long as the process runs."""

    def __init__(self, options: Options, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self.options = options
        self.totals = Totals()
        self.transport = transport

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/play", self.play, methods=["POST"]),
            Route("/totals", self.show_totals, methods=["GET"]),
            Route("/games/{game_id}", self.page, methods=["GET"]),
            Route("/balance", self.balance, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
        ])

    async def health(self, request: Request) -> Response:
        return MoneyJSONResponse({"status": "ok", "games": RTP})

    async def show_totals(self, request: Request) -> Response:
        return MoneyJSONResponse(self.totals.view())

    async def page(self, request: Request) -> Response:
        game_id = request.path_params["game_id"]
        if game_id not in RTP:
            return MoneyJSONResponse({"error": "no such game", "code": "NO_GAME"}, 404)
        name = html.escape(game_id)
        # the token stays in the address: the script reads it there, nothing echoes it
        return HTMLResponse(PAGE.replace("{name}", name).replace("{rtp}", f"{RTP[game_id]:.2f}"))

    async def balance(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        if not token:
            return MoneyJSONResponse({"error": "token: the launched game's token",
                                      "code": "VALIDATION_ERROR"}, 400)
        async with httpx.AsyncClient(base_url=self.options.wallet_url, timeout=30,
                                     transport=self.transport) as client:
            status, answer = await self.send(client, "balance", {"token": token})
        if "balance" in answer:  # as the wallet wrote it (18.00, not a float's 18)
            answer["display"] = f"{answer['balance']} {answer.get('currency', '')}".strip()
        return MoneyJSONResponse(answer, status)

    async def send(self, client: httpx.AsyncClient, operation: str,
                   body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One signed wallet call, sent again when it gets no answer or a 5xx."""
        raw = dumps(body).encode()
        headers = {"Content-Type": "application/json",
                   "X-Signature": sign(self.options.secret, raw)}
        for attempt in range(ATTEMPTS):
            try:
                r = await client.post(f"/v1/aggregator/sandbox/{operation}", content=raw,
                                      headers=headers)
            except httpx.TransportError:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            if r.status_code < 500 or attempt == ATTEMPTS - 1:
                answer: dict[str, Any] = loads(r.content)
                return r.status_code, answer
        raise AssertionError("unreachable")

    async def play(self, request: Request) -> Response:
        try:
            play = read_play(loads(await request.body()))
        except Refused as exc:
            return MoneyJSONResponse({"error": str(exc), "code": "VALIDATION_ERROR"}, 400)
        except Exception:
            return MoneyJSONResponse({"error": "the body is not JSON",
                                      "code": "VALIDATION_ERROR"}, 400)
        async with httpx.AsyncClient(base_url=self.options.wallet_url, timeout=30,
                                     transport=self.transport) as client:
            totals = await Rounds(self, client, play).run()
        self.totals.add(totals)
        return MoneyJSONResponse(totals.view())


class Rounds:
    """A play's rounds against the wallet."""

    def __init__(self, service: SandboxGames, client: httpx.AsyncClient, play: Play) -> None:
        self.service, self.client, self.play = service, client, play
        self.totals = Totals()

    async def send(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, answer = await self.service.send(self.client, operation, body)
        code = str(answer.get("code"))
        self.totals.answers[code] = self.totals.answers.get(code, 0) + 1
        return status, answer

    async def twice(self, operation: str, body: dict[str, Any], again: bool
                    ) -> tuple[int, dict[str, Any]]:
        """Send ``body``; when ``again``, send it once more and check the wallet gave the
        same answer."""
        status, answer = await self.send(operation, body)
        if again:
            repeat_status, repeat = await self.send(operation, body)
            if (repeat_status, repeat) != (status, answer):
                self.totals.inconsistent_replays += 1
        return status, answer

    async def run(self) -> Totals:
        play = self.play
        for index in range(play.rounds):
            if not await self.round(f"{play.id}-{index}"):
                break
            self.totals.rounds += 1
        return self.totals

    async def round(self, round_id: str) -> bool:
        """One round; False when the wallet refused its bet (the play stops)."""
        play = self.play
        common = {"token": play.token, "round_id": round_id, "game_id": play.game_id}
        if play.chance("ghost"):
            await self.ghost(common, f"{round_id}-ghost")
        bet_id = f"{round_id}-bet"
        retry = play.chance("retry")
        self.totals.retries += retry
        status, answer = await self.twice("bet", {
            **common, "transaction_id": bet_id, "amount": play.stake,
            "currency": play.currency}, retry)
        if status != 200:
            self.totals.stopped = str(answer.get("code"))
            return False
        self.totals.bets += play.stake
        self.totals.bet_count += 1
        if play.chance("rollback"):
            status, _ = await self.twice("rollback", {
                **common, "transaction_id": f"{round_id}-rollback",
                "reference_transaction_id": bet_id}, play.chance("retry"))
            if status == 200:
                self.totals.rollbacks += play.stake
                self.totals.rollback_count += 1
            return True
        won = play.win()
        duplicate = play.chance("duplicate_win")
        self.totals.duplicate_wins += duplicate
        status, _ = await self.twice("win", {
            **common, "transaction_id": f"{round_id}-win", "amount": won,
            "currency": play.currency}, duplicate)
        if status == 200:
            self.totals.wins += won
            self.totals.win_count += 1
        return True

    async def ghost(self, common: dict[str, Any], ghost_id: str) -> None:
        """Roll back a bet the wallet never saw, then send that bet: it must be refused."""
        status, _ = await self.send("rollback", {
            **common, "transaction_id": f"{ghost_id}-rollback",
            "reference_transaction_id": ghost_id})
        if status == 200:
            self.totals.ghost_rollbacks += 1
        status, _ = await self.send("bet", {**common, "transaction_id": ghost_id,
                                            "amount": self.play.stake,
                                            "currency": self.play.currency})
        if status != 200:
            self.totals.ghost_bets_refused += 1


PAGE = """<!doctype html>
<meta charset="utf-8"><title>{name}</title>
<h1>{name}</h1>
<p>Return to player: {rtp}%. Balance: <b id="balance">…</b></p>
<form id="spin"><label>Stake <input id="stake" value="1.00" size="6"></label>
<button>Spin</button></form>
<p id="outcome"></p>
<script>
const token = new URLSearchParams(location.search).get("token") || "";
const game = location.pathname.split("/").pop();
let currency = "";
async function balance() {
  const answer = await (await fetch("/balance?token=" + encodeURIComponent(token))).json();
  if (answer.code !== "OK") { outcome.textContent = answer.code + ": " + answer.error; return; }
  currency = answer.currency;
  document.getElementById("balance").textContent = answer.display;
}
document.getElementById("spin").onsubmit = async (event) => {
  event.preventDefault();
  const stake = document.getElementById("stake").value;
  const played = await (await fetch("/play", {method: "POST", body: JSON.stringify({
    token, game_id: game, rounds: 1, stake, currency, retry_rate: 0, duplicate_win_rate: 0,
    rollback_rate: 0, ghost_rollback_rate: 0})})).json();
  outcome.textContent = played.stopped ? "refused: " + played.stopped
    : (played.wins > 0 ? "won " + played.wins : "no win");
  await balance();
};
balance();
</script>
"""


def run(*, host: str, port: int, options: Options) -> None:
    """Serve the simulator until interrupted."""
    uvicorn.run(SandboxGames(options).app(), host=host, port=port, log_level="warning")
