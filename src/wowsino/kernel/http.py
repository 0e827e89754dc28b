"""HTTP plumbing shared by every router: the error envelope, request ids, metrics."""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wowsino.kernel.db import database_unavailable
from wowsino.kernel.errors import DomainError
from wowsino.kernel.ids import new_id, visible_ascii
from wowsino.kernel.jsonio import MoneyJSONResponse
from wowsino.kernel.logs import log_failure
from wowsino.kernel.openapi import without_null
from wowsino.kernel.realm import request_id_var
from wowsino.kernel.replicas import ROUTED_READ, declare_routing

log = structlog.get_logger("wowsino.http")

HTTP_CODES = {
    400: "VALIDATION_ERROR", 401: "AUTH_REQUIRED", 403: "SCOPE_DENIED", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR", 429: "RATE_LIMIT",
    503: "SERVICE_UNAVAILABLE",
}


def error_response(request: Request, status: int, body: dict[str, Any]) -> MoneyJSONResponse:
    headers = dict(getattr(request.state, "rate_limit_headers", None) or {})
    return MoneyJSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to ``{error, code}``: domain errors, validation, routing, crashes."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> MoneyJSONResponse:
        # a refusal that keeps a record of itself (the compliance gate's): written now that
        # the request's own transaction has rolled back; the answer goes out regardless
        record_after = getattr(exc, "record_after", None)
        if record_after is not None:
            try:
                await record_after(request.app.state.platform.engine)
            except Exception:
                log.warning("refusal_record_failed", code=exc.code, exc_info=True)
        return error_response(request, exc.status, exc.body())

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> MoneyJSONResponse:
        problems = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                msg = (err.get("ctx") or {}).get("error", "malformed JSON")
                problems.append({"field": "body", "message": f"malformed JSON: {msg}"})
                continue
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append({"field": _field(tuple(err.get("loc", ()))), "message": message})
        first = problems[0] if problems else {"field": "body", "message": "invalid request"}
        message = (first["message"] if first["field"] == "body"
                   else f"{first['field']}: {first['message']}")
        return error_response(request, 400, {
            "error": message, "code": "VALIDATION_ERROR",
            "details": {"field": first["field"], "errors": problems},
        })

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> MoneyJSONResponse:
        code = HTTP_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        if exc.status_code == 405:
            return method_not_allowed(request)
        body: dict[str, Any] = {"error": message, "code": code}
        if exc.status_code == 400:  # the framework could not read the body
            body["details"] = {"field": "body", "errors": [{"field": "body",
                                                            "message": message}]}
        return error_response(request, exc.status_code, body)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> MoneyJSONResponse:
        # RequestContextMiddleware answers failures first; this covers anything outside it
        log.error("unhandled error", route=route_template(request.scope), exc_info=exc)
        return failure_response(exc)


def failure_response(exc: BaseException) -> MoneyJSONResponse:
    """What an unexpected exception answers: 503 when the database is unreachable,
    else 500. Both are safe to retry with the same idempotency key."""
    if database_unavailable(exc):
        return MoneyJSONResponse(
            {"error": "the database is unavailable; safe to retry with the same idempotency key",
             "code": "SERVICE_UNAVAILABLE"},
            status_code=503, headers={"Retry-After": "1"},
        )
    return MoneyJSONResponse(
        {"error": "internal error; safe to retry with the same idempotency key",
         "code": "INTERNAL"},
        status_code=500,
    )


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route serves at ``path`` (Starlette names only the first match's)."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import compile_path

    allowed: set[str] = set()
    for context in iter_route_contexts(app.routes):
        # the path with its convertors (``{id:uuid}``): the route's own matcher
        template, methods = context.path or context.path_format, context.methods
        if template and methods and compile_path(template)[0].match(path):
            allowed |= set(methods)
    return sorted(allowed)


def method_not_allowed(request: Request) -> MoneyJSONResponse:
    """``405`` in the envelope, with ``Allow`` naming every method the path serves."""
    allowed = allowed_methods(request.app, request.url.path)
    response = error_response(request, 405, {
        "error": f"{request.method} is not allowed on {request.url.path}; "
                 f"allowed: {', '.join(allowed)}",
        "code": "METHOD_NOT_ALLOWED", "details": {"allowed": allowed},
    })
    response.headers["Allow"] = ", ".join(allowed)
    return response


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("wowsino_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("wowsino_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5, 1, 2.5, 5))


REQUEST_ID_MAX_LENGTH = 128


def incoming_request_id(scope: Scope) -> str | None:
    """The client's ``X-Request-Id`` when it can be echoed safely: 1 to 128 visible
    ASCII characters. Anything else (raw bytes, control characters, spaces, too long)
    is replaced by a generated id."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"x-request-id":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if visible_ascii(text, REQUEST_ID_MAX_LENGTH) else None
    return None


def log_request(scope: Scope, *, request_id: str, route: str, status: int, seconds: float,
                failure: BaseException | None) -> None:
    """The one log line of a request: who (tenant and mode, once authenticated), which
    route template (never the raw path or query), the status and how long it took."""
    fields: dict[str, Any] = {"request_id": request_id, "method": scope.get("method"),
                              "route": route, "status": status,
                              "duration_ms": round(seconds * 1000, 1)}
    state = scope.get("state") or {}
    principal = state.get("principal") or state.get("player_session")
    if principal is not None:
        fields["tenant"] = principal.tenant_slug
        fields["mode"] = principal.realm.mode.value
    if failure is None:
        log.info("request", **fields)
    else:
        log_failure(log, "request", failure, **fields)


class RequestContextMiddleware:
    """Request ids, RateLimit-* headers on every answer, the answer to an unexpected
    failure (500, or 503 while the database is down, with the connection kept usable),
    the request's log line and its metrics (pure ASGI)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or f"req_{new_id().hex}"
        token = request_id_var.set(request_id)
        began = time.perf_counter()
        status, responding = 500, False
        failure: BaseException | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal status, responding
            if message["type"] == "http.response.start":
                status, responding = message["status"], True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                state = scope.get("state") or {}
                for name, value in (state.get("rate_limit_headers") or {}).items():
                    if not any(h[0].lower() == name.lower().encode() for h in headers):
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            failure = exc
            if responding:  # too late for an error answer: the server closes the connection
                raise
            # answered here, not re-raised: the server would close the connection
            await failure_response(exc)(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)
            template = route_template(scope)
            seconds = time.perf_counter() - began
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(seconds)
            log_request(scope, request_id=request_id, route=template, status=status,
                        seconds=seconds, failure=failure)


class ErrorBody(BaseModel):
    """The one error envelope (extra fields such as ``details`` are allowed)."""

    error: str = Field(min_length=1)
    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
    details: dict[str, Any] | None = None


COMMON_ERRORS = {
    "400": "VALIDATION_ERROR: invalid body or query",
    "401": "AUTH_REQUIRED or AUTH_INVALID",
    "403": "SCOPE_DENIED, TENANT_SUSPENDED, PLAYER_BLOCKED",
    "404": "not found (NO_PLAYER, NOT_FOUND, …)",
    "429": "RATE_LIMIT (see Retry-After)",
    "500": "INTERNAL: safe to retry with the same idempotency key",
    "503": "SERVICE_UNAVAILABLE: a dependency is down; safe to retry",
}
WRITE_ERRORS = {
    "402": "INSUFFICIENT_FUNDS or INSUFFICIENT_WINZ",
    "409": "NOT_ACTIVE, IDEMPOTENCY_IN_PROGRESS, …",
    "422": "IDEMPOTENCY_KEY_REUSED: the key was used with another body",
}
ADMIN_WRITE_ERRORS = {"409": "SLUG_TAKEN, …"}
BODY_ERRORS = {
    "413": "PAYLOAD_TOO_LARGE: the body is over the size limit",
    "415": "UNSUPPORTED_MEDIA_TYPE: send application/json",
}
OPERATIONS_ERRORS = {"500": "INTERNAL"}
REPLAY = 'a replay: the original response, with "deduped": true'
# ``openapi_extra`` of a create that is never replayed (a login, a game launch: each is a
# new session whose token is stored nowhere): the document then shows no replay answer
NEVER_REPLAYED: dict[str, Any] = {"x-never-replayed": True}
WRITES = ("post", "patch", "put", "delete")
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
SECURITY = {
    "apiKey": {"type": "http", "scheme": "bearer",
               "description": "an API key: wsk_live_… or wsk_test_…"},
    "publishableKey": {"type": "http", "scheme": "bearer",
                       "description": "a white-label brand's publishable key, safe in a "
                                      "browser: wpk_live_… or wpk_test_… (/v1/auth/* and "
                                      "the public listings only)"},
    "playerSession": {"type": "http", "scheme": "bearer",
                      "description": "a player session token from POST /v1/auth/login: "
                                     "wps_live_… or wps_test_…"},
    "adminToken": {"type": "http", "scheme": "bearer",
                   "description": "the platform admin credential (WOWSINO_ADMIN_TOKEN)"},
    "pspSignature": {"type": "apiKey", "in": "header", "name": "X-Signature",
                     "description": "a PSP's signature over the raw body, as its adapter "
                                    "defines it (docs/psp.md)"},
    "aggregatorSignature": {"type": "apiKey", "in": "header", "name": "X-Signature",
                            "description": "a game aggregator's signature over the raw "
                                           "body: lowercase hex HMAC-SHA256 with its "
                                           "secret (docs/games.md)"},
    "kycSignature": {"type": "apiKey", "in": "header", "name": "X-Signature",
                     "description": "a KYC vendor's signature over the raw body, as its "
                                    "adapter defines it: the sandbox's X-Signature, "
                                    "Sumsub's X-Payload-Digest (docs/kyc.md)"},
}
CALLBACK_PREFIX = "/v1/psp/"  # PSP callbacks are signed, with no key
KYC_CALLBACK = re.compile(r"^/v1/kyc/[^/]+/callback$")  # KYC vendors' webhooks too
AGGREGATOR_PREFIX = "/v1/aggregator/"  # game aggregators' calls are signed, with no key


def _declared_errors(path: str, method: str, op: dict[str, Any]) -> dict[str, str]:
    """The error answers an operation can give, by where it lives."""
    if path.startswith("/v1/"):
        errors = dict(COMMON_ERRORS)
        if method in WRITES:
            errors.update(WRITE_ERRORS)
    elif path == "/tenants" or path.startswith("/tenants/"):
        errors = {k: v for k, v in COMMON_ERRORS.items() if k != "403"}
        if method in WRITES:
            errors.update(ADMIN_WRITE_ERRORS)
    else:  # /healthz, /readyz, /metrics: no key, no body
        return dict(OPERATIONS_ERRORS)
    if "requestBody" in op:
        errors.update(BODY_ERRORS)
    return errors


def _tidy_operation(path: str, method: str, op: dict[str, Any],
                    credentials: tuple[str, ...] = ("apiKey",)) -> None:
    """Make one operation say what the server does: an absent query parameter or body
    is absent, never ``null``; every answer has its content; every error the envelope."""
    for param in op.get("parameters", []):
        if not param.get("required") and "schema" in param:
            param["schema"] = without_null(param["schema"])
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        body["schema"] = without_null(body["schema"])
    responses = op.setdefault("responses", {})
    responses.pop("422", None)  # the framework's validation shape; this API answers 400
    for status, description in _declared_errors(path, method, op).items():
        responses.setdefault(status, {"description": description})
    replayed = not op.pop("x-never-replayed", False)
    if path.startswith("/v1/") and method == "post" and "201" in responses and replayed:
        responses.setdefault("200", {"description": REPLAY})
    json_answer = {"application/json": {"schema": {"type": "object"}}}
    for status, declared in responses.items():
        if status.startswith("2") and not declared.get("content"):
            declared["content"] = json_answer
        elif status[0] in "45":
            declared.setdefault("content", ERROR_CONTENT)
    if path.startswith(CALLBACK_PREFIX):
        op["security"] = [{"pspSignature": []}]
    elif KYC_CALLBACK.match(path):
        op["security"] = [{"kycSignature": []}]
    elif path.startswith(AGGREGATOR_PREFIX):
        op["security"] = [{"aggregatorSignature": []}]
    elif path.startswith("/v1/"):
        op["security"] = [{name: []} for name in credentials]
    elif path == "/tenants" or path.startswith("/tenants/"):
        op["security"] = [{"adminToken": []}]


def declare_errors(app: FastAPI) -> None:
    """Make the OpenAPI document tell the truth: the error envelope and every error
    answer on every operation (never the framework's 422 validation shape, which this
    API does not use), replays of writes, credentials, and no ``null`` where the
    server takes none."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["ErrorBody"] = ErrorBody.model_json_schema()
        components["securitySchemes"] = SECURITY
        taken = _credentials(app)
        routed = _routed_reads(app)
        for path, item in doc.get("paths", {}).items():
            for method, op in item.items():
                _tidy_operation(path, method, op, taken.get((path, method), ("apiKey",)))
                if (path, method) in routed:
                    declare_routing(op)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _credentials(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(path template, method)`` → the credentials the route takes (``kernel.auth``)."""
    from wowsino.kernel.auth import credentials_of

    return {(path, method.lower()): credentials_of(route.dependant)
            for path, methods, route in api_routes(app) for method in methods}


def _routed_reads(app: FastAPI) -> set[tuple[str, str]]:
    """``(path template, method)`` of the reads marked ``kernel.replicas.routed_read``."""
    return {(path, method.lower()) for path, methods, route in api_routes(app)
            for method in methods if getattr(route.endpoint, ROUTED_READ, False)}


def index_route_templates(app: FastAPI) -> None:
    """Remember each route's full path template (``/v1/players/{key}``): included
    routers keep only their own prefix on the route object."""
    from fastapi.routing import iter_route_contexts

    app.state.route_templates = {
        id(context.original_route): context.path_format
        for context in iter_route_contexts(app.routes)
    }


def route_template(scope: Scope) -> str:
    """The full path template of the route that served ``scope`` (or ``unmatched``)."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    app = scope.get("app")
    templates = getattr(getattr(app, "state", None), "route_templates", {})
    return str(templates.get(id(route)) or getattr(route, "path", "unmatched"))


def api_routes(app: FastAPI) -> list[tuple[str, set[str], Any]]:
    """Every API route as ``(full path template, methods, route)``."""
    from fastapi.routing import APIRoute, iter_route_contexts

    return [
        (str(c.path_format), set(c.original_route.methods or ()), c.original_route)
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute)
    ]
