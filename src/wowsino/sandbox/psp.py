"""The sandbox PSP: a payment service provider stand-in that speaks HTTP like a real one,
for demos and tests (``wowsino sandbox psp --port 8010``).

- ``POST /payments`` and ``POST /payouts`` ``{reference, amount, currency, method,
  callback_url}``, signed (``X-Signature``: lowercase hex HMAC-SHA256 of the raw body
  with the shared secret): answers ``201 {transaction_id, status: "pending",
  redirect_url}``; the same reference again answers ``200`` with the same transaction
  and schedules nothing (a payout is paid once, however often it is asked for).
- After ``delay`` seconds it POSTs a signed callback to ``callback_url``:
  ``{event_id, transaction_id, reference, type: payment|payout, status: completed|failed,
  amount, currency, reason, sent_at}``, retried with backoff until a 2xx.
- Methods: ``card`` completes (or fails at ``failure_rate``), ``card_declined`` fails,
  ``card_slow`` calls back after ``slow_delay`` (30 s by default), ``card_twice`` sends
  its callback twice.
- ``POST /transactions/<id>/notify {status, reason?}`` (signed) sends a callback now with
  the status given: a late failure, a chargeback, a repeat. ``GET /transactions/<id>``
  shows a transaction; ``GET /pay/<id>`` is the hosted payment page's stand-in.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from wowsino.kernel.jsonio import dumps
from wowsino.sandbox.signed import call_back, error, read_signed
from wowsino.wallet.psp.sandbox import METHODS

log = structlog.get_logger("wowsino.sandbox.psp")


@dataclass(frozen=True)
class Options:
    secret: str
    delay: float = 1.0  # seconds before the callback
    slow_delay: float = 30.0  # ``card_slow``'s delay
    failure_rate: float = 0.0  # share of ``card`` transactions that fail
    retries: int = 5  # callback attempts after the first
    seed: int | None = None  # for a reproducible failure rate


@dataclass
class Transaction:
    id: str
    kind: str  # payment | payout
    reference: str
    amount: str
    currency: str
    method: str
    callback_url: str
    status: str = "pending"
    reason: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    callbacks_sent: int = 0

    def content(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.amount, self.currency, self.method, self.callback_url)


class SandboxPsp:
    """The service: its transactions live in memory, for as long as the process runs."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.transactions: dict[str, Transaction] = {}
        self.by_reference: dict[tuple[str, str], str] = {}
        self.random = random.Random(options.seed)  # noqa: S311 - a stand-in's failures, not a draw
        self.tasks: set[asyncio.Task[None]] = set()

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/payments", self.create_payment, methods=["POST"]),
            Route("/payouts", self.create_payout, methods=["POST"]),
            Route("/transactions/{transaction_id}", self.show, methods=["GET"]),
            Route("/transactions/{transaction_id}/notify", self.notify, methods=["POST"]),
            Route("/pay/{transaction_id}", self.page, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
        ])

    async def create_payment(self, request: Request) -> Response:
        return await self._create(request, "payment")

    async def create_payout(self, request: Request) -> Response:
        return await self._create(request, "payout")

    async def _create(self, request: Request, kind: str) -> Response:
        document = await read_signed(request, self.options.secret, decimal=True)
        if isinstance(document, Response):
            return document
        problem = _check(document)
        if problem is not None:
            return error(400, problem)
        reference = document["reference"]
        known = self.by_reference.get((kind, reference))
        if known is not None:
            existing = self.transactions[known]
            if existing.content() != _content(kind, document):
                return error(409, "this reference was used with other content")
            return JSONResponse(self._answer(existing, request), status_code=200)
        prefix = "pay" if kind == "payment" else "out"
        transaction = Transaction(
            id=f"sbx_{prefix}_{secrets.token_hex(10)}", kind=kind, reference=reference,
            amount=str(Decimal(str(document["amount"]))), currency=document["currency"],
            method=document["method"], callback_url=document["callback_url"])
        self.transactions[transaction.id] = transaction
        self.by_reference[(kind, reference)] = transaction.id
        self._schedule(transaction)
        return JSONResponse(self._answer(transaction, request), status_code=201)

    def _answer(self, transaction: Transaction, request: Request) -> dict[str, Any]:
        page = (f"{str(request.base_url).rstrip('/')}/pay/{transaction.id}"
                if transaction.kind == "payment" else None)
        return {"transaction_id": transaction.id, "reference": transaction.reference,
                "status": transaction.status, "redirect_url": page}

    def _schedule(self, transaction: Transaction) -> None:
        """Decide the outcome now; call back after the method's delay."""
        method, options = transaction.method, self.options
        if method == "card_declined":
            status, reason = "failed", "card_declined"
        elif method == "card" and self.random.random() < options.failure_rate:
            status, reason = "failed", "random_failure"
        else:
            status, reason = "completed", None
        delay = options.slow_delay if method == "card_slow" else options.delay
        times = 2 if method == "card_twice" else 1
        task = asyncio.get_running_loop().create_task(
            self._call_back_later(transaction, status, reason, delay, times))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _call_back_later(self, transaction: Transaction, status: str, reason: str | None,
                               delay: float, times: int) -> None:
        await asyncio.sleep(delay)
        transaction.status, transaction.reason = status, reason
        for _ in range(times):
            await self.call_back(transaction, status, reason)

    async def call_back(self, transaction: Transaction, status: str, reason: str | None) -> int:
        """POST one signed callback, retried with backoff until a 2xx; its last status
        (0: never answered)."""
        body = dumps({"event_id": f"sbx_evt_{secrets.token_hex(10)}",
                      "transaction_id": transaction.id, "reference": transaction.reference,
                      "type": transaction.kind, "status": status,
                      "amount": transaction.amount, "currency": transaction.currency,
                      "reason": reason, "sent_at": datetime.now(UTC).isoformat()}).encode()
        answered = await call_back(transaction.callback_url, body, secret=self.options.secret,
                                   retries=self.options.retries, log=log, what="callback",
                                   transaction=transaction.id)
        if 200 <= answered < 300:
            transaction.callbacks_sent += 1
        return answered

    async def notify(self, request: Request) -> Response:
        document = await read_signed(request, self.options.secret, decimal=True)
        if isinstance(document, Response):
            return document
        transaction = self.transactions.get(request.path_params["transaction_id"])
        if transaction is None:
            return error(404, "no such transaction")
        status, reason = document.get("status"), document.get("reason")
        if status not in ("completed", "failed", "pending"):
            return error(400, "status: completed, failed or pending")
        if reason is not None and not isinstance(reason, str):
            return error(400, "reason: a string")
        transaction.status, transaction.reason = status, reason
        answered = await self.call_back(transaction, status, reason)
        return JSONResponse({"transaction_id": transaction.id, "status": status,
                             "callback_status": answered})

    async def show(self, request: Request) -> Response:
        transaction = self.transactions.get(request.path_params["transaction_id"])
        if transaction is None:
            return error(404, "no such transaction")
        return JSONResponse(asdict(transaction))

    async def page(self, request: Request) -> Response:
        transaction = self.transactions.get(request.path_params["transaction_id"])
        if transaction is None:
            return HTMLResponse("<h1>No such payment</h1>", status_code=404)
        return HTMLResponse(f"<h1>Sandbox payment {transaction.id}</h1><p>{transaction.amount} "
                            f"{transaction.currency} by {transaction.method}: "
                            f"{transaction.status}</p>")

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "transactions": len(self.transactions)})


def _content(kind: str, document: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (kind, str(Decimal(str(document["amount"]))), document["currency"],
            document["method"], document["callback_url"])


def _check(document: dict[str, Any]) -> str | None:
    """What is wrong with a creation request, or None."""
    for name in ("reference", "currency", "method", "callback_url"):
        value = document.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= 2048:
            return f"{name}: a string is required"
    if document["method"] not in METHODS:
        return f"method: one of {sorted(METHODS)}"
    if urlsplit(document["callback_url"]).scheme not in ("http", "https"):
        return "callback_url: an http(s) URL is required"
    try:
        amount = Decimal(str(document.get("amount")))
    except InvalidOperation:
        return "amount: a decimal amount is required"
    if not amount.is_finite() or amount <= 0:
        return "amount: a positive amount is required"
    return None


def run(*, host: str, port: int, options: Options) -> None:  # pragma: no cover
    import uvicorn

    uvicorn.run(SandboxPsp(options).app(), host=host, port=port, log_level="warning",
                access_log=False)
