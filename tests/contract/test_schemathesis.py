"""Property-based tests of the served OpenAPI document (schemathesis) against a real
``wowsino serve``: ``/v1`` with a test key and ``/tenants`` with the admin token.

Every generated request, valid or not, must get an answer the document declares: never
a 5xx, a documented status, content type and headers, for errors the ``{error, code}``
envelope, a 4xx for a request the document forbids, and 405 with ``Allow`` for a method
a path does not serve. Both phases run: coverage (boundary and invalid values of every
parameter, deterministic) and fuzzing (``MAX_EXAMPLES`` per operation, derandomized).
"""

from __future__ import annotations

import os
import re
from typing import Any

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
VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,255}")

# Generation is bounded, but the machine may be shared: a generous ceiling, not a budget.
pytestmark = pytest.mark.timeout(900)


def config(headers: dict[str, str], ids: dict[str, list[str]]) -> schemathesis.Config:
    """Deterministic, bounded generation; path parameters and ``user_id`` mostly name
    the seeded objects, so requests reach past the 404 into the services."""
    parameters: dict[str, Any] = {
        f"path.{name}": {"dictionary": name, "probability": 0.8} for name in ids}
    parameters["body.user_id"] = {"dictionary": "key", "probability": 0.6}
    return schemathesis.Config.from_dict({
        "headers": headers,
        "suppress-health-check": ["all"],
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "no-shrink": True,
                       "database": "none"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False},
                   "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "dictionaries": {name: {"values": values} for name, values in ids.items()},
        "parameters": parameters,
    })


@pytest.fixture(scope="module")
def v1_schema(served: Served) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(
        f"{served.base_url}/v1/openapi.json",
        config=config({"Authorization": f"Bearer {served.test_key}"}, served.ids),
    ).include(path_regex="^/v1/")


@pytest.fixture(scope="module")
def admin_schema(served: Served) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(
        f"{served.base_url}/v1/openapi.json",
        config=config({"Authorization": f"Bearer {ADMIN_TOKEN}"}, served.ids),
    ).include(path_regex="^/tenants")


def known_defect(case: Case, status: int) -> str | None:
    """The defect a 5xx answer is already known for, or ``None``.

    Each entry is a defect whose fix is under way in another change (issue 6): it
    excuses only a 5xx, only for the input that defect names. Remove the entry when
    the fix lands; the test then holds the fix in place.
    """
    if status < 500:
        return None
    body = case.body if isinstance(case.body, dict) else {}
    headers = {k.lower(): v for k, v in (case.headers or {}).items()}
    for key in (body.get("idempotency_key"), headers.get("idempotency-key")):
        # issue 6: "validate the key … visible ASCII, 1–255 characters, else 400";
        # today a key outside Latin-1 answers 500 after the write committed
        if isinstance(key, str) and not VISIBLE_ASCII.fullmatch(key):
            return "idempotency key outside visible ASCII"
    if (case.operation.method.upper(), case.operation.path) == (
            "PATCH", "/v1/webhooks/{webhook_id}") and "status" in body and body["status"] is None:
        # issue 6: "PATCH /v1/webhooks/<id> {"status": null} → 400 (today 500)"
        return "webhook status null"
    return None


def run_operations(schema: schemathesis.BaseSchema, served: Served) -> tuple[int, list[str]]:
    """Run the generated tests of every operation: ``(operations, failures)``."""
    from schemathesis.checks import load_all_checks
    from schemathesis.pytest.lazy import get_all_tests

    load_all_checks()
    excused: set[str] = set()

    def exercise(case: Case) -> None:
        response = case.call(base_url=served.base_url)
        defect = known_defect(case, response.status_code)
        if defect is not None:
            excused.add(f"{case.operation.label} answered {response.status_code}: {defect}")
            return
        case.validate_response(response)

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
    for line in sorted(excused):
        print(f"excused, known defect: {line}")
    return operations, failures


def _report(failures: list[str], served: Served) -> str:
    return "\n\n".join([*failures, "server log (tail):", served.log.read_text()[-4000:]])


def test_v1_answers_every_generated_request_as_documented(
    v1_schema: schemathesis.BaseSchema, served: Served,
) -> None:
    operations, failures = run_operations(v1_schema, served)
    assert operations > 50
    assert not failures, _report(failures, served)


def test_tenants_answers_every_generated_request_as_documented(
    admin_schema: schemathesis.BaseSchema, served: Served,
) -> None:
    operations, failures = run_operations(admin_schema, served)
    assert operations >= 9
    assert not failures, _report(failures, served)
