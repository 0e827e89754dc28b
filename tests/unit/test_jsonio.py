"""What the API writes: ``dumps`` (orjson, with simplejson where orjson cannot) gives
exactly the text simplejson's exact-decimal encoder gives, for every kind of value an
answer holds; a float (no amount is one) may differ in form only, never in value
(``5.96e-8`` for ``5.96e-08``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import simplejson
from hypothesis import given, settings
from hypothesis import strategies as st
from simplejson import RawJSON

from wowsino.kernel.jsonio import dumps, json_default

REFERENCE = simplejson.JSONEncoder(use_decimal=True, default=json_default,
                                   separators=(",", ":"), ensure_ascii=False)

instants = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.decimals(allow_nan=False, allow_infinity=False, places=2,
                min_value=Decimal("-1e17"), max_value=Decimal("1e17")),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(), st.uuids(), instants, st.dates(),
)
floats = st.floats(allow_nan=False, allow_infinity=False)


def documents_of(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(leaves, _containers, max_leaves=30)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=5), st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=5),
        st.dictionaries(st.integers(-5, 5), inner, max_size=3),
    )


@settings(max_examples=400, deadline=None)
@given(documents_of(scalars))
def test_dumps_writes_what_the_exact_decimal_encoder_writes(document: Any) -> None:
    assert dumps(document) == REFERENCE.encode(document)


@settings(max_examples=200, deadline=None)
@given(documents_of(st.one_of(scalars, floats)))
def test_floats_keep_their_value(document: Any) -> None:
    assert simplejson.loads(dumps(document)) == simplejson.loads(REFERENCE.encode(document))


def test_a_pre_encoded_part_is_sent_as_it_is() -> None:
    part = RawJSON('{"added":1.40,"pool":1234.56}')
    assert dumps({"effects": part, "list": [part]}) == (
        '{"effects":{"added":1.40,"pool":1234.56},"list":[{"added":1.40,"pool":1234.56}]}')


def test_amounts_and_instants_keep_their_exact_form() -> None:
    moment = datetime(2026, 12, 1, 17, 0, 0, 123456, tzinfo=UTC)
    assert dumps({"amount": Decimal("10.03"), "big": Decimal("92233720368547758.07"),
                  "at": moment, "day": date(2026, 12, 1)}) == (
        '{"amount":10.03,"big":92233720368547758.07,"at":"2026-12-01T17:00:00.123456Z",'
        '"day":"2026-12-01"}')


@pytest.mark.parametrize("value", [object(), {"x": [object()]}])
def test_what_cannot_be_written_is_refused_as_before(value: Any) -> None:
    with pytest.raises(TypeError, match="not JSON serialisable"):
        dumps(value)
