"""The sandbox KYC vendor: a stand-in that speaks HTTP like a real one, for demos and
tests (``wowsino sandbox kyc --port 8030``).

- ``POST /sessions {reference, level, callback_url, ttl_seconds}``, signed (``X-Signature``:
  lowercase hex HMAC-SHA256 of the raw body with the shared secret): answers ``201
  {session_id, reference, status: "pending", verification_url, expires_at}``; the same
  reference again answers ``200`` with the same session (other content: ``409``).
- ``GET <verification_url>`` is the verification page: a form asking the applicant's
  name. ``POST`` to it (a form, or JSON ``{first_name, last_name}``) completes the
  verification. The outcome depends on the last name: ``Reject`` is rejected for good
  (``final``), ``Retry`` is rejected with a retry allowed (the same page may be submitted
  again), anything else is approved.
- After ``delay`` seconds it POSTs a signed webhook to ``callback_url``: ``{event_id,
  session_id, reference, decision: approved|rejected, rejection: retry|final|null, reason,
  level, decided_at, sent_at}`` (``decided_at``: the vendor's time of the decision),
  retried with backoff until a 2xx.
- ``POST /sessions/<id>/notify {decision, rejection?, reason?, decided_at?}`` (signed)
  sends a decision now, as given: a late or out-of-order one. ``POST
  /sessions/<id>/resend`` (signed) sends the last webhook again, unchanged (a repeat).
  ``GET /sessions/<id>`` shows a session; ``GET /healthz`` answers ``{"status": "ok"}``.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import simplejson
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from wowsino.kernel.jsonio import dumps
from wowsino.sandbox.signed import call_back, error, read_signed

log = structlog.get_logger("wowsino.sandbox.kyc")

# the last names that decide the sandbox's outcome (any other name is approved)
OUTCOMES: dict[str, tuple[str, str | None, str]] = {
    "reject": ("rejected", "final", "document_forged"),
    "retry": ("rejected", "retry", "document_unreadable"),
}


@dataclass(frozen=True)
class Options:
    secret: str
    delay: float = 0.5  # seconds between a completed verification and its webhook
    retries: int = 5  # webhook attempts after the first


@dataclass
class Session:
    id: str
    reference: str
    level: int
    callback_url: str
    expires_at: datetime
    status: str = "pending"  # pending | submitted | approved | rejected
    rejection: str | None = None
    applicant: dict[str, str] = field(default_factory=dict)
    webhooks_sent: int = 0
    last_webhook: bytes | None = None

    def content(self) -> tuple[int, str]:
        return (self.level, self.callback_url)


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """The vendor's times: ISO-8601 UTC with milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SandboxKyc:
    """The service: its sessions live in memory, for as long as the process runs."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.sessions: dict[str, Session] = {}
        self.by_reference: dict[str, str] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/sessions", self.create, methods=["POST"]),
            Route("/sessions/{session_id}", self.show, methods=["GET"]),
            Route("/sessions/{session_id}/notify", self.notify, methods=["POST"]),
            Route("/sessions/{session_id}/resend", self.resend, methods=["POST"]),
            Route("/verify/{session_id}", self.page, methods=["GET"]),
            Route("/verify/{session_id}", self.submit, methods=["POST"]),
            Route("/healthz", self.health, methods=["GET"]),
        ])

    async def create(self, request: Request) -> Response:
        document = await read_signed(request, self.options.secret, empty=True)
        if isinstance(document, Response):
            return document
        problem = _check(document)
        if problem is not None:
            return error(400, problem)
        known = self.by_reference.get(document["reference"])
        if known is not None:
            existing = self.sessions[known]
            if existing.content() != (document["level"], document["callback_url"]):
                return error(409, "this reference was used with other content")
            return JSONResponse(self._answer(existing, request), status_code=200)
        session = Session(
            id=f"sbx_kyc_{secrets.token_hex(10)}", reference=document["reference"],
            level=document["level"], callback_url=document["callback_url"],
            expires_at=now() + timedelta(seconds=document.get("ttl_seconds") or 3600))
        self.sessions[session.id] = session
        self.by_reference[session.reference] = session.id
        return JSONResponse(self._answer(session, request), status_code=201)

    def _answer(self, session: Session, request: Request) -> dict[str, Any]:
        return {"session_id": session.id, "reference": session.reference,
                "status": session.status,
                "verification_url": f"{str(request.base_url).rstrip('/')}/verify/{session.id}",
                "expires_at": stamp(session.expires_at)}

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.path_params["session_id"])

    async def page(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return HTMLResponse("<h1>No such verification</h1>", status_code=404)
        action = html.escape(str(request.url.path))
        return HTMLResponse(
            f"<h1>Sandbox identity check</h1><p>Level {session.level}: {session.status}</p>"
            f"<form method='post' action='{action}'>"
            "<label>First name <input name='first_name'></label> "
            "<label>Last name <input name='last_name' required></label> "
            "<button>Verify</button></form>"
            "<p>Last name <b>Reject</b>: rejected for good; <b>Retry</b>: rejected, try "
            "again; anything else: approved.</p>")

    async def submit(self, request: Request) -> Response:
        """Complete the verification with the applicant's name; the webhook follows."""
        session = self._session(request)
        if session is None:
            return error(404, "no such verification")
        wants_json = "json" in request.headers.get("content-type", "")
        applicant = await _applicant(request, wants_json)
        if applicant is None:
            return error(400, "last_name: the applicant's last name is required")
        if now() >= session.expires_at:
            return error(410, "this verification page has expired")
        if session.status in ("submitted", "approved") or session.rejection == "final":
            return error(409, f"this verification is already {session.status}")
        decision, rejection, reason = OUTCOMES.get(applicant["last_name"].strip().lower(),
                                                   ("approved", None, "identity_verified"))
        session.status, session.applicant = "submitted", applicant
        self._later(session, decision, rejection, reason)
        answer = {"session_id": session.id, "status": "submitted", "decision": decision,
                  "rejection": rejection}
        if wants_json:
            return JSONResponse(answer, status_code=202)
        return HTMLResponse(f"<h1>Thank you</h1><p>The decision ({decision}) is on its "
                            "way.</p>", status_code=202)

    def _later(self, session: Session, decision: str, rejection: str | None,
               reason: str) -> None:
        async def send() -> None:
            await asyncio.sleep(self.options.delay)
            await self.decide(session, decision, rejection, reason, now())

        task = asyncio.get_running_loop().create_task(send())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def decide(self, session: Session, decision: str, rejection: str | None,
                     reason: str | None, decided_at: datetime) -> int:
        session.status, session.rejection = decision, rejection
        body = dumps({"event_id": f"sbx_evt_{secrets.token_hex(10)}",
                      "session_id": session.id, "reference": session.reference,
                      "decision": decision, "rejection": rejection, "reason": reason,
                      "level": session.level, "decided_at": stamp(decided_at),
                      "sent_at": stamp(now())}).encode()
        session.last_webhook = body
        return await self.call_back(session, body)

    async def call_back(self, session: Session, body: bytes) -> int:
        """POST one signed webhook, retried with backoff until a 2xx; its last status
        (0: never answered)."""
        answered = await call_back(session.callback_url, body, secret=self.options.secret,
                                   retries=self.options.retries, log=log, what="webhook",
                                   session=session.id)
        if 200 <= answered < 300:
            session.webhooks_sent += 1
        return answered

    async def notify(self, request: Request) -> Response:
        document = await read_signed(request, self.options.secret, empty=True)
        if isinstance(document, Response):
            return document
        session = self._session(request)
        if session is None:
            return error(404, "no such session")
        decision, rejection = document.get("decision"), document.get("rejection")
        if decision not in ("approved", "rejected"):
            return error(400, "decision: approved or rejected")
        if (rejection not in ("retry", "final")) if decision == "rejected" else rejection:
            return error(400, "rejection: retry or final for a rejection, none otherwise")
        reason = document.get("reason")
        if reason is not None and not isinstance(reason, str):
            return error(400, "reason: a string")
        decided_at = now()
        if document.get("decided_at") is not None:
            try:
                decided_at = datetime.fromisoformat(str(document["decided_at"]))
            except ValueError:
                return error(400, "decided_at: an ISO-8601 time")
            if decided_at.tzinfo is None:
                return error(400, "decided_at: the time needs its zone")
        answered = await self.decide(session, decision, rejection, reason, decided_at)
        return JSONResponse({"session_id": session.id, "decision": decision,
                             "callback_status": answered})

    async def resend(self, request: Request) -> Response:
        document = await read_signed(request, self.options.secret, empty=True)
        if isinstance(document, Response):
            return document
        session = self._session(request)
        if session is None or session.last_webhook is None:
            return error(404, "no webhook to send again")
        answered = await self.call_back(session, session.last_webhook)
        return JSONResponse({"session_id": session.id, "callback_status": answered})

    async def show(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return error(404, "no such session")
        shown = {k: v for k, v in asdict(session).items() if k != "last_webhook"}
        shown["expires_at"] = stamp(session.expires_at)
        return JSONResponse(shown)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "sessions": len(self.sessions)})


async def _applicant(request: Request, wants_json: bool) -> dict[str, str] | None:
    """The name submitted on the verification page (a form or JSON), or None."""
    raw = await request.body()
    try:
        document = (simplejson.loads(raw) if wants_json
                    else dict(parse_qsl(raw.decode(), keep_blank_values=True)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    first, last = document.get("first_name") or "", document.get("last_name")
    if not isinstance(last, str) or not last.strip() or not isinstance(first, str):
        return None
    return {"first_name": first[:100], "last_name": last[:100]}


def _check(document: dict[str, Any]) -> str | None:
    """What is wrong with a session request, or None."""
    for name in ("reference", "callback_url"):
        value = document.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= 2048:
            return f"{name}: a string is required"
    if urlsplit(document["callback_url"]).scheme not in ("http", "https"):
        return "callback_url: an http(s) URL is required"
    level, ttl = document.get("level"), document.get("ttl_seconds")
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 3:
        return "level: 1 to 3"
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool)
                            or not 60 <= ttl <= 7 * 86400):
        return "ttl_seconds: 60 to 604800"
    return None


def run(*, host: str, port: int, options: Options) -> None:  # pragma: no cover
    import uvicorn

    uvicorn.run(SandboxKyc(options).app(), host=host, port=port, log_level="warning",
                access_log=False)
