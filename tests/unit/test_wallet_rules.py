"""The wallet's pure rules: our PSP references, the sandbox adapter's signatures and
status mapping, and when a rolling deposit limit makes room again."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from wowsino.compliance.gate import _rolling
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.realm import Mode, Realm
from wowsino.kernel.vendors import Account, CallbackInvalid, sign
from wowsino.wallet import references
from wowsino.wallet.psp.sandbox import SandboxAdapter

REALM = Realm(uuid.uuid4(), Mode.TEST)
ACCOUNT = Account("http://psp.invalid", {"secret": "s3cret"})


def test_a_reference_names_its_realm_and_row_and_nothing_else_is_one() -> None:
    row = uuid.uuid4()
    for target in ("deposit", "withdrawal"):
        raw = references.encode(target, REALM, row)  # type: ignore[arg-type]
        found = references.decode(raw)
        assert found is not None
        assert (found.target, found.realm, found.id) == (target, REALM, row)
        assert str(found) == raw
    for bad in ("", "dep_test_x", "dep_prod_" + "0" * 32 + "_" + "0" * 32,
                "xyz_test_" + "0" * 32 + "_" + "0" * 32,
                references.encode("deposit", REALM, row).upper(),
                references.encode("deposit", REALM, row) + "\n"):
        assert references.decode(bad) is None, bad


def _callback(**changes: object) -> bytes:
    fields = {"transaction_id": "sbx_pay_1", "reference": "dep_x", "type": "payment",
              "status": "completed", "amount": "10.00", "currency": "usd", **changes}
    return dumps(fields).encode()


def test_the_sandbox_verifies_the_raw_body_and_maps_its_statuses() -> None:
    adapter = SandboxAdapter()
    body = _callback()
    good = {"x-signature": sign("s3cret", body)}
    assert adapter.verify(body, good, ACCOUNT)
    assert adapter.verify(body, {"x-signature": good["x-signature"].upper()}, ACCOUNT)
    assert not adapter.verify(body + b" ", good, ACCOUNT)
    assert not adapter.verify(body, {"x-signature": sign("other", body)}, ACCOUNT)
    assert not adapter.verify(body, {}, ACCOUNT)
    event = adapter.parse(body, good)
    assert event is not None
    assert (event.status, event.kind, event.amount, event.currency) == (
        "completed", "payment", Decimal("10.00"), "USD")
    assert adapter.parse(_callback(status="pending"), {}) is None
    failed = adapter.parse(_callback(status="failed", reason="card_declined"), {})
    assert failed is not None and failed.reason == "card_declined"
    for bad in (b"nope", b"[]", _callback(status="refunded"), _callback(type="refund"),
                _callback(amount="NaN"), _callback(amount=None), _callback(reference=5)):
        with pytest.raises(CallbackInvalid):
            adapter.parse(bad, {})
    assert adapter.reference_of(_callback(), {}) == "dep_x"
    assert adapter.reference_of(_callback(reference=None), {}) is None


def test_a_rolling_limit_makes_room_when_the_oldest_deposits_leave_its_window() -> None:
    at = datetime(2026, 1, 2, 12, tzinfo=UTC)
    day = timedelta(hours=24)
    history = [(at - timedelta(hours=20), 30), (at - timedelta(hours=10), 50),
               (at - timedelta(hours=1), 20)]
    assert _rolling(history, at, day, 150, 50) is None  # 100 used + 50 fits
    # 100 used, 60 asked, limit 100: the 30 leaves at +4 h (70 + 60 > 100), the 50 at +14 h
    assert _rolling(history, at, day, 100, 60) == (100, at - timedelta(hours=10) + day)
    assert _rolling(history, at, day, 100, 30) == (100, at - timedelta(hours=20) + day)
    assert _rolling(history, at, day, 100, 101) == (100, None)  # never fits
    old = [(at - timedelta(hours=30), 90)]  # outside the window: nothing used
    assert _rolling(old, at, day, 100, 100) is None


def test_the_sandbox_command_refuses_impossible_options() -> None:
    done = subprocess.run([sys.executable, "-m", "wowsino.cli", "sandbox", "psp",
                           "--failure-rate", "2"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "failure-rate" in done.stdout + done.stderr
