"""The request body limit, enforced while the body is read (pure ASGI, before routing
and authentication): a declared ``Content-Length`` over the limit is refused at once,
and a streamed (chunked) body is counted as it arrives and refused as soon as it passes
the limit, so an oversized body is never buffered whole."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wowsino.kernel.jsonio import MoneyJSONResponse


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the limit. An HTTP exception, so the
    framework's body parsing lets it through and the error handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


def too_large(limit: int) -> MoneyJSONResponse:
    # close the connection: the rest of the body is not read
    return MoneyJSONResponse(
        {"error": f"the request body exceeds {limit} bytes", "code": "PAYLOAD_TOO_LARGE",
         "details": {"max_bytes": limit}},
        status_code=413, headers={"Connection": "close"},
    )


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with ``413 PAYLOAD_TOO_LARGE``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await too_large(limit)(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def checked_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app made of the refusal, the answer is the 413
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await too_large(limit)(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, checked_send)
        except BodyTooLarge:
            if started:
                raise
            await too_large(limit)(scope, receive, send)
