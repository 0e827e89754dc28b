"""Property-based tests of the served OpenAPI document (schemathesis) against a real
``wowsino serve``: ``/v1`` with a test key, ``/v1/player`` with a white-label player's
session and ``/tenants`` with the admin token.

Every generated request, valid or not, must get an answer the document declares: never
a 5xx, a documented status, content type and headers, for errors the ``{error, code}``
envelope, a 4xx for a request the document forbids, and 405 with ``Allow`` for a method
a path does not serve. Both phases run: coverage (boundary and invalid values of every
parameter, deterministic) and fuzzing (``MAX_EXAMPLES`` per operation, derandomized).
"""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case

from tests.conftest import ADMIN_TOKEN
from tests.contract.conftest import Served

# per operation in the fuzzing phase; WOWSINO_FUZZ_EXAMPLES runs deeper on demand
MAX_EXAMPLES = int(os.environ.get("WOWSINO_FUZZ_EXAMPLES", "6"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance",
          "negative_data_rejection", "unsupported_method", "allow_header_conformance")


def _cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


# Values schema-driven generation rarely reaches but outside reviews did: forged cursors,
# amounts at the edge of 64 bits, date-times that overflow once moved to UTC.
EDGE_VALUES: dict[str, list[Any]] = {
    "cursors": [_cursor(p) for p in ("[1,2]", '["garbage","x"]', "[1e30]", "[1]", "{}")],
    "amounts": [9223372036854775807, "92233720368547758.07", "1e30", 4294967296],
    "datetimes": ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"],
}
EDGES = {
    "query.cursor": "cursors", "query.since": "datetimes", "body.timeout_until": "datetimes",
    "body.draw_at": "datetimes", **{f"body.{name}": "amounts" for name in (
        "amount", "seed_usd", "must_drop_at", "ticket_cost_winz", "prize_winz", "cost_winz",
        "deposit_daily_limit", "loss_daily_limit", "wager_daily_limit")},
}

# Generation is bounded, but the machine may be shared: a generous ceiling, not a budget.
pytestmark = pytest.mark.timeout(900)


def config(headers: dict[str, str], ids: dict[str, list[str]]) -> schemathesis.Config:
    """Deterministic, bounded generation; path parameters and ``user_id`` mostly name
    the seeded objects, so requests reach past the 404 into the services."""
    parameters: dict[str, Any] = {
        f"path.{name}": {"dictionary": name, "probability": 0.8} for name in ids}
    if "key" in ids:
        parameters["body.user_id"] = {"dictionary": "key", "probability": 0.6}
    if "promo_code" in ids:
        parameters["body.promo_code"] = {"dictionary": "promo_code", "probability": 0.6}
    for location, dictionary in EDGES.items():
        parameters[location] = {"dictionary": dictionary, "probability": 0.25}
    dictionaries = {name: {"values": values} for name, values in ids.items()}
    dictionaries.update({name: {"values": values} for name, values in EDGE_VALUES.items()})
    return schemathesis.Config.from_dict({
        "headers": headers,
        "suppress-health-check": ["all"],
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "no-shrink": True,
                       "database": "none"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False},
                   "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "dictionaries": dictionaries,
        "parameters": parameters,
    })


@pytest.fixture(scope="module")
def v1_schema(served: Served) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(
        f"{served.base_url}/v1/openapi.json",
        config=config({"Authorization": f"Bearer {served.test_key}"}, served.ids),
    ).include(path_regex="^/v1/").exclude(path_regex="^/v1/player/")


class PlayerSessions:
    """Real sessions of white-label players for the fuzzer. Most routes share one; a route
    that ends its session (logout, self-exclusion) gets a live one for every case. Each
    login comes from its own loopback address: the fuzzer's wrong passwords lock 127.0.0.1
    out of logging in, as they would any client."""

    ENDING = ("/v1/auth/logout", "/v1/player/self-exclude")

    def __init__(self, served: Served) -> None:
        self.served = served
        self.tokens: dict[bool, str] = {}
        self.made = 0

    def _new(self) -> str:
        self.made += 1
        username = f"fuzz-player-{self.made}"
        password = "fuzzing passphrase"
        with httpx.Client(base_url=self.served.base_url, timeout=30) as c:
            r = c.post("/v1/auth/register", headers=bearer(self.served.wl_key), json={
                "username": username, "email": f"{username}@example.com",
                "password": password, "country_code": "MT", "date_of_birth": "1990-01-01"})
            assert r.status_code == 201, r.text
        address = f"127.0.{1 + self.made // 250}.{1 + self.made % 250}"
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=self.served.base_url, timeout=30, transport=transport) as c:
            r = c.post("/v1/auth/login", headers=bearer(self.served.wl_publishable),
                       json={"username": username, "password": password})
            assert r.status_code == 201, r.text
            token: str = r.json()["session_token"]
            return token

    def _alive(self, token: str) -> bool:
        r = httpx.get(f"{self.served.base_url}/v1/player/sessions", headers=bearer(token),
                      timeout=30)
        return r.status_code == 200

    def token(self, path: str) -> str:
        ending = path in self.ENDING
        token = self.tokens.get(ending)
        if token is None or not self._alive(token):
            token = self.tokens[ending] = self._new()
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def player_schema(served: Served) -> schemathesis.BaseSchema:
    """The routes a player calls with a session, each case with a live one, over the
    objects seeded for players (their ids in the path dictionary)."""
    assert served.player_ids is not None
    schema = schemathesis.openapi.from_url(
        f"{served.base_url}/v1/openapi.json", config=config({}, served.player_ids),
    ).include(path_regex="^/v1/(player/|auth/logout$)")
    sessions = PlayerSessions(served)

    @schema.auth(refresh_interval=None)
    class SessionAuth:
        def get(self, case: Case, context: Any) -> str:
            return sessions.token(case.operation.path)

        def set(self, case: Case, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), **bearer(data)}

    return schema


@pytest.fixture(scope="module")
def site_schema(served: Served) -> schemathesis.BaseSchema:
    """Registration and login with a white-label brand's publishable key."""
    return schemathesis.openapi.from_url(
        f"{served.base_url}/v1/openapi.json",
        config=config(bearer(served.wl_publishable), served.ids),
    ).include(path_regex="^/v1/auth/(register|login)$")


@pytest.fixture(scope="module")
def admin_schema(served: Served) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(
        f"{served.base_url}/v1/openapi.json",
        config=config({"Authorization": f"Bearer {ADMIN_TOKEN}"}, served.ids),
    ).include(path_regex="^/tenants")


def run_operations(schema: schemathesis.BaseSchema, served: Served) -> tuple[int, list[str]]:
    """Run the generated tests of every operation: ``(operations, failures)``."""
    from schemathesis.checks import load_all_checks
    from schemathesis.pytest.lazy import get_all_tests

    load_all_checks()

    def exercise(case: Case) -> None:
        case.validate_response(case.call(base_url=served.base_url))

    operations, failures = 0, []
    for result in get_all_tests(schema=schema, test_func=exercise, settings=None,
                                given_kwargs={}):
        operations += 1
        try:
            operation, test = result.ok()
        except Exception as exc:  # an operation the document describes unusably
            failures.append(f"unusable operation: {exc}")
            continue
        try:
            test()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups its failures
            failures.append(f"{operation.label}:\n{exc}")
    return operations, failures


def _report(failures: list[str], served: Served) -> str:
    return "\n\n".join([*failures, "server log (tail):", served.log.read_text()[-4000:]])


def test_v1_answers_every_generated_request_as_documented(
    v1_schema: schemathesis.BaseSchema, served: Served,
) -> None:
    operations, failures = run_operations(v1_schema, served)
    assert operations > 50
    assert not failures, _report(failures, served)


def test_player_routes_answer_every_generated_request_as_documented(
    player_schema: schemathesis.BaseSchema, served: Served,
) -> None:
    operations, failures = run_operations(player_schema, served)
    assert operations >= 27
    assert not failures, _report(failures, served)


def test_tenants_answers_every_generated_request_as_documented(
    admin_schema: schemathesis.BaseSchema, served: Served,
) -> None:
    operations, failures = run_operations(admin_schema, served)
    assert operations >= 9
    assert not failures, _report(failures, served)


def test_player_registration_and_login_answer_every_generated_request(
    site_schema: schemathesis.BaseSchema, served: Served,
) -> None:
    operations, failures = run_operations(site_schema, served)
    assert operations == 2
    assert not failures, _report(failures, served)
