"""What the sandbox vendors (``psp``, ``kyc``) share: requests signed with the shared
secret (``X-Signature``: lowercase hex HMAC-SHA256 of the raw body, as
``kernel.vendors`` checks it) and signed callbacks sent until the platform takes them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import simplejson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wowsino.kernel.vendors import sign, signature_holds

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_signed(request: Request, secret: str, *, decimal: bool = False,
                      empty: bool = False) -> dict[str, Any] | Response:
    """A signed request's JSON object (numbers as ``Decimal`` when ``decimal``; an empty
    body as ``{}`` when ``empty``), or the answer refusing it: 401 for a signature that
    does not verify, 400 for a body that is no JSON object."""
    raw = await request.body()
    if not signature_holds(secret, raw, request.headers.get("x-signature")):
        return error(401, "the request's signature does not verify")
    if empty and not raw:
        return {}
    try:
        document = simplejson.loads(raw, use_decimal=decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return error(400, "the body is not JSON")
    if not isinstance(document, dict):
        return error(400, "the body is not a JSON object")
    return document


async def call_back(url: str, body: bytes, *, secret: str, retries: int,
                    log: Any, what: str, **about: Any) -> int:
    """POST one signed callback to ``url``, retried with backoff until a 2xx; its last
    status (0: never answered). A 4xx other than 404, 409 and 429 is an answer: sending
    it again changes nothing. ``what`` and ``about`` name it in the log."""
    headers = {"Content-Type": "application/json", "X-Signature": sign(secret, body)}
    answered = 0
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        for attempt in range(retries + 1):
            try:
                answered = (await http.post(url, content=body, headers=headers)).status_code
            except httpx.HTTPError as exc:
                log.warning(f"{what} not delivered", **about, error=type(exc).__name__)
                answered = 0
            if 200 <= answered < 300:
                return answered
            if 400 <= answered < 500 and answered not in (404, 409, 429):
                return answered
            await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
    return answered
