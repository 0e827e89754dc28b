"""How documentation examples are read and compared (``tests/docs/examples.py``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.docs.examples import (
    DocError,
    compare,
    deterministic,
    parse_shown,
    parse_shown_json,
    read_document,
)

DOC = '''# A page

```sh
curl -s $BASE/v1/lootbox -d '{"name": "Box"}'
```

<!-- capture: BOX=lootbox.id -->

```json
{"lootbox": {"id": "01a20ca1-237c-7d00-bbd4-8e22ce354ee5", "name": "Box", …}}
```

<!-- vary: reward -->

Prose ends the example.

<!-- not-run: needs a receiver -->
```bash
curl -s $BASE/v1/webhooks/$BOX/ping
```

```sh
export BASE=http://127.0.0.1:8000
```

```sh
curl -s -i $BASE/v1/me
```

```
HTTP/1.1 402 Payment Required
idempotency-key: k-1
…

{"error": "insufficient WINZ balance", "code": "INSUFFICIENT_WINZ"}
```
'''


def test_a_document_gives_its_examples_in_order_with_their_directives(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(DOC)
    first, second, third = read_document(page).examples
    assert first.captures == [("BOX", "lootbox.id")] and first.vary == {"reward"}
    assert first.shown is not None and first.shown.status is None
    assert second.skip == "needs a receiver" and second.shown is None
    assert third.shown is not None and third.shown.status == 402
    assert third.shown.headers == {"idempotency-key": "k-1"}


def test_two_curls_in_one_block_are_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```sh\ncurl -s $BASE/a\ncurl -s $BASE/b\n```\n")
    with pytest.raises(DocError, match="one curl per example block"):
        read_document(page)


def test_an_ellipsis_leaves_members_and_elements_out() -> None:
    shown = parse_shown_json('{"a": 1, …, "b": [1, …], "c": {…}}')
    actual = {"a": 1, "b": [1, 2, 3], "c": {"x": None}, "extra": True}
    assert compare(shown, actual, set()) == []
    assert compare(parse_shown_json('{"b": [1]}'), {"b": [1, 2]}, set()) == [
        "$.b: shown 1 elements, got 2"]


def test_a_drifted_response_is_caught() -> None:
    shown = parse_shown_json('{"postings": [{"asset": "USD", "amount_minor": 2500}]}')
    actual = {"postings": [{"asset": "USD", "amount": Decimal("25.00")}]}
    assert compare(shown, actual, set()) == ["$.postings[0].amount_minor: shown but missing"]
    assert compare(parse_shown_json('{"n": 1}'), {"n": "1"}, set()) == [
        "$.n: shown number Decimal('1'), got string '1'"]
    assert compare(parse_shown_json('{"code": "A"}'), {"code": "B"}, set()) == [
        "$.code: shown 'A', got 'B'"]


def test_values_that_change_from_run_to_run_are_compared_by_type_only() -> None:
    for varying in ("01a20ca1-237c-7d00-bbd4-8e22ce354ee5", "2026-01-01T12:00:00Z",
                    "8febaac0273bdcb70318561e65a9fac4857bc57adf959205b9d566e489e69aec",
                    "req_01a20ca272ef7f4e", "wsk_test_0b70…", "whsec_Zk3…", "api_key:01a2…",
                    "WyIyMDI2LTExLTI0VDA4OjE4OjIyLjg1NzA2MFoiLCJhdWRpdCIsNV0"):
        assert not deterministic(varying), varying
    for fixed in ("alice", "USD", "INSUFFICIENT_WINZ", "goodwill credit", "2026-11"):
        assert deterministic(fixed), fixed
    shown = parse_shown_json('{"reward": {"amount": 10}, "draws": 0}')
    assert compare(shown, {"reward": {"amount": 100}, "draws": 0}, {"reward"}) == []
    assert compare(shown, {"reward": {"amount": "100"}, "draws": 0}, {"reward"}) != []


def test_a_shown_status_line_and_headers_are_read() -> None:
    shown = parse_shown("HTTP/1.1 201 Created\nidempotency-key: signup-alice\n…\n{\"ok\": true}", 1)
    assert (shown.status, shown.headers) == (201, {"idempotency-key": "signup-alice"})
