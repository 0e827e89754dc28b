"""Direct routes: the hottest writes served without the framework's per-request machinery.

An endpoint marked ``@direct`` is still a FastAPI route (the OpenAPI document, every
test and every other request path see it as one), but ``DirectRoutes``, a pure ASGI
layer inside the request-id, body-limit and read-routing middleware, answers its
requests itself: one regular expression instead of a walk over the route table, the
endpoint function called with its path parameters, its validated body, the request and
the authenticated principal, instead of the framework's dependency resolution, exit
stacks and exception wrappers. The endpoint, its service and its answer are the same
code; so are the errors: a domain error raised by authentication or by the endpoint is
answered by the app's own handler.

What the layer cannot take cleanly it hands to the app untouched (the body it read is
replayed), before any effect: a query string, a body that is not a JSON object, a media
type other than JSON, a body its model refuses. The framework then answers exactly as
it always does (400, 415, …), and authentication runs once either way: here only once
the body has been accepted, which is the order the framework's own answers keep (a
malformed body is refused before authentication, a well-formed one after it).

A marked endpoint's signature is checked when the app is built: path parameters of
type ``str``, at most one body parameter (a pydantic model), the ``Request``, and one
principal dependency made by ``kernel.auth.scoped`` / ``white_label``. Anything else
raises at start-up, not per request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wowsino.kernel.auth import authenticate
from wowsino.kernel.jsonio import DecimalRequest, is_json_media_type, parse_body

DIRECT = "wowsino_direct"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def direct(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint to be served by ``DirectRoutes`` (see the module docstring)."""
    setattr(endpoint, DIRECT, True)
    return endpoint


class Unsupported(Exception):
    """A marked endpoint whose signature the direct layer cannot call."""


@dataclass(frozen=True)
class DirectRoute:
    method: str
    pattern: re.Pattern[str]
    route: APIRoute
    path_names: tuple[tuple[str, str], ...]  # (in the path, the endpoint's parameter)
    body_name: str | None
    body_model: type[BaseModel] | None
    request_name: str
    principal_name: str
    principal_check: Callable[..., Awaitable[Any]]


def _plan(path: str, route: APIRoute) -> DirectRoute:
    dependant = route.dependant
    where = f"{sorted(route.methods or ())} {path}"
    if dependant.query_params or dependant.header_params or dependant.cookie_params:
        raise Unsupported(f"{where}: query, header or cookie parameters")
    if len(dependant.body_params) > 1:
        raise Unsupported(f"{where}: more than one body parameter")
    body_name = body_model = None
    if dependant.body_params:
        field = dependant.body_params[0]
        annotation = field.field_info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            raise Unsupported(f"{where}: the body is not a pydantic model")
        body_name, body_model = field.name, annotation
    for field in dependant.path_params:
        if field.field_info.annotation is not str or field.field_info.metadata:
            raise Unsupported(f"{where}: path parameter {field.name} is not a plain str")
    if dependant.request_param_name is None:
        raise Unsupported(f"{where}: the endpoint does not take the Request")
    if len(dependant.dependencies) != 1:
        raise Unsupported(f"{where}: not exactly one dependency (the principal)")
    principal = dependant.dependencies[0]
    inner = principal.dependencies
    if (principal.name is None or len(inner) != 1 or inner[0].call is not authenticate
            or principal.path_params or principal.query_params or principal.body_params):
        raise Unsupported(f"{where}: the dependency is not a principal made by scoped()")
    assert principal.call is not None
    assert inner[0].name is not None
    check = principal.call
    inner_name = inner[0].name

    async def principal_check(request: Any) -> Any:
        return await check(**{inner_name: await authenticate(request)})

    pattern, _, _ = compile_path(path)
    method = next(iter(route.methods or ()))
    return DirectRoute(
        method=method, pattern=pattern, route=route,
        path_names=tuple((f.alias, f.name) for f in dependant.path_params), body_name=body_name,
        body_model=body_model, request_name=dependant.request_param_name,
        principal_name=principal.name, principal_check=principal_check)


def plan_direct_routes(app: FastAPI) -> list[DirectRoute]:
    """The app's routes whose endpoint is marked ``@direct``, planned (or ``Unsupported``)."""
    planned = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and getattr(route.endpoint, DIRECT, False):
            if len(route.methods or ()) != 1:
                raise Unsupported(f"{context.path_format}: not exactly one method")
            planned.append(_plan(str(context.path_format), route))
    return planned


def _route_path(scope: Scope) -> str:
    """The path the routes match: without the root path the server was given."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class _Refer(Exception):
    """The request goes to the app as it came (nothing has happened yet)."""


class DirectRoutes:
    """Pure ASGI: serve the planned routes directly; everything else goes to ``app``.

    ``routes`` is filled by ``create_app`` once every route is in (the middleware is
    added before the routes are)."""

    def __init__(self, app: ASGIApp, routes: list[DirectRoute]) -> None:
        self.app = app
        self.routes = routes
        self.served = 0  # requests answered here (the framework never saw them)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("query_string"):
            method, path = scope["method"], _route_path(scope)
            for planned in self.routes:
                if planned.method == method:
                    found = planned.pattern.match(path)
                    if found is not None:
                        await self._serve(planned, found, scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _serve(self, planned: DirectRoute, found: re.Match[str], scope: Scope,
                     receive: Receive, send: Send) -> None:
        path_params = found.groupdict()
        body = b""
        request = DecimalRequest(scope, receive)
        try:
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
            try:
                model = self._body(planned, scope, body)
            except _Refer:
                await self.app(scope, _replay(body, receive), send)
                return
            scope["route"] = planned.route
            scope["endpoint"] = planned.route.endpoint
            scope["path_params"] = path_params
            request = DecimalRequest(scope, _replay(body, receive))
            principal = await planned.principal_check(request)
            arguments: dict[str, Any] = {planned.request_name: request,
                                         planned.principal_name: principal}
            for alias, name in planned.path_names:
                arguments[name] = path_params[alias]
            if planned.body_name is not None:
                arguments[planned.body_name] = model
            response = await planned.route.endpoint(**arguments)
        except Exception as exc:
            handler = _handler(scope["app"], exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        self.served += 1
        await response(scope, receive, send)

    @staticmethod
    def _body(planned: DirectRoute, scope: Scope, body: bytes) -> BaseModel | None:
        if planned.body_model is None:
            if body:
                raise _Refer
            return None
        content_type = Headers(scope=scope).get("content-type")
        if content_type is not None and not is_json_media_type(content_type):
            raise _Refer
        try:
            parsed = parse_body(body)  # what the framework's body reading does
        except json.JSONDecodeError:
            raise _Refer from None
        if not isinstance(parsed, dict):
            raise _Refer
        try:
            return planned.body_model.model_validate(parsed)
        except ValidationError:
            raise _Refer from None


def _handler(app: Any, exc: Exception) -> Callable[..., Awaitable[Any]] | None:
    """The app's own handler for ``exc`` (the most specific registered class), as the
    framework would choose it; None for an unexpected failure, which the request-context
    middleware answers (500, or 503 with the database down)."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            handler: Callable[..., Awaitable[Any]] = handlers[cls]
            return handler
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands out ``body`` once, then defers to the connection's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
