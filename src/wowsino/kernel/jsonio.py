"""JSON in and out with exact decimals: amounts are parsed as Decimal, never float,
and written back as JSON numbers."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import simplejson
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from simplejson import RawJSON

from wowsino.kernel.clock import iso
from wowsino.kernel.errors import UnsupportedMediaType, ValidationFailed


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# Built once: ``simplejson.dumps`` with options builds a new encoder on every call, which
# costs more than encoding a small answer. An encoder keeps no state between calls.
_ENCODER = simplejson.JSONEncoder(
    use_decimal=True, default=json_default, separators=(",", ":"), ensure_ascii=False)

# orjson writes what the API sends about ten times faster than simplejson (which spends
# most of a small answer setting up its encoder); a Decimal goes out as the exact number
# ``str`` gives, as simplejson's ``use_decimal`` writes it, and instants as ``iso`` does.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _orjson_default(value: Any) -> Any:
    """orjson's ``default``: exact decimals and pre-encoded parts as they are, the rest as
    ``json_default`` writes it."""
    kind = type(value)
    if kind is Decimal:
        return orjson.Fragment(str(value))
    if kind is RawJSON:
        return orjson.Fragment(value.encoded_json)
    return json_default(value)


def orjson_first(content: Any, fallback: simplejson.JSONEncoder, *, sort_keys: bool = False
                 ) -> bytes:
    """``content`` written by orjson as ``fallback`` writes it (compact, exact decimals;
    keys sorted if asked), or by ``fallback`` itself for what orjson does not write (an
    integer beyond 64 bits, a float subclass) or nothing does (``fallback`` then raises
    the same TypeError)."""
    option = _ORJSON_OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _ORJSON_OPTIONS
    try:
        return orjson.dumps(content, default=_orjson_default, option=option)
    except orjson.JSONEncodeError:
        encoded: str = fallback.encode(content)
        return encoded.encode("utf-8")


def encode(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON, amounts as exact numbers."""
    return orjson_first(content, _ENCODER)


def dumps(content: Any) -> str:
    return encode(content).decode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValidationFailed(f"body: {name} is not a valid JSON number")


def loads(raw: str | bytes) -> Any:
    """Parse JSON with numbers as Decimal/int; NaN and Infinity are refused."""
    return simplejson.loads(raw, use_decimal=True, parse_constant=_reject_constant)


class Encoded:
    """A body already encoded by ``dumps`` (a stored response): sent as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class MoneyJSONResponse(JSONResponse):
    """A JSON response that writes Decimals as exact JSON numbers."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, Encoded):
            return content.text.encode("utf-8")
        return encode(content)


# Deeper request bodies are refused when read: nothing here needs more than a few
# levels, and every later walk over a body (validation, fingerprints) stays shallow.
MAX_BODY_DEPTH = 32


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels deep
    (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def parse_body(body: bytes) -> Any:
    """A request body as JSON with exact decimals, or ``json.JSONDecodeError`` saying why
    not: malformed, not UTF-8, NaN or Infinity, a number past Python's digit limit,
    nested more than ``MAX_BODY_DEPTH`` levels, or ``null``."""
    too_deep = f"nested more than {MAX_BODY_DEPTH} levels deep"
    try:
        parsed = loads(body)
    except ValidationFailed as exc:
        raise json.JSONDecodeError(exc.message, body.decode(errors="replace"), 0) from None
    except simplejson.JSONDecodeError as exc:
        raise json.JSONDecodeError(exc.msg, exc.doc, exc.pos) from None
    except UnicodeDecodeError:
        raise json.JSONDecodeError("body is not UTF-8", "", 0) from None
    except RecursionError:
        raise json.JSONDecodeError(too_deep, "", 0) from None
    except ValueError:  # an integer past Python's digit limit for conversions
        raise json.JSONDecodeError("a number has too many digits", "", 0) from None
    if isinstance(parsed, dict | list) and nested_deeper_than(parsed, MAX_BODY_DEPTH):
        raise json.JSONDecodeError(too_deep, "", 0)
    if parsed is None:  # an optional body is left out, never sent as null
        raise json.JSONDecodeError("the body is null: send a JSON object or none", "", 0)
    return parsed


class DecimalRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_body(await self.body())
        return self._json


JSON_MEDIA_TYPE = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or ``application/<anything>+json``, any parameters."""
    media = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return length is None or length.strip() != "0"


def require_json_body(request: Request) -> None:
    """A JSON endpoint reads a body without ``Content-Type`` as JSON and refuses any other
    media type with 415 (before authentication or any effect)."""
    if request.method not in _BODY_METHODS or not _has_body(request):
        return
    content_type = request.headers.get("content-type")
    if content_type is None or not content_type.strip():
        headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"content-type"]
        request.scope["headers"] = [*headers, (b"content-type", JSON_MEDIA_TYPE.encode())]
        return
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            f"the body must be {JSON_MEDIA_TYPE} (send Content-Type: {JSON_MEDIA_TYPE})",
            content_type=content_type[:100],
        )


class DecimalRoute(APIRoute):
    """Routes whose request bodies are parsed with exact decimals."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            require_json_body(request)
            return await original(DecimalRequest(request.scope, request.receive))

        return handler
