"""Canonical JSON: the bytes every content hash and request fingerprint is taken over.

Numbers are written the way a jsonb column gives them back (PostgreSQL numeric), so
a value hashes the same before it is stored and after it is read back; the state
machine test checks the round trip against the real database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st
from simplejson import RawJSON

from wowsino.kernel.canonical import _CANONICAL, _as_stored, canonical, fingerprint
from wowsino.kernel.jsonio import loads
from wowsino.kernel.ledger import content_hash, entry_content
from wowsino.kernel.realm import Mode, Realm


def test_sorted_keys_no_whitespace_exact_decimals() -> None:
    assert canonical({"b": 1, "a": [Decimal("1.50"), "é", None, True]}) == (
        '{"a":[1.50,"é",null,true],"b":1}'.encode()
    )


def test_numbers_as_postgres_numeric_stores_them() -> None:
    assert canonical(Decimal("-0.00")) == b"0.00"  # numeric has no negative zero
    assert canonical(Decimal("-0")) == b"0"
    assert canonical(Decimal("1E+2")) == b"100"  # nor positive exponents
    assert canonical(Decimal("-2.5E+3")) == b"-2500"
    assert canonical(Decimal("0E+3")) == b"0"
    assert canonical(Decimal("1E-8")) == b"1E-8"  # 0.00000001, scale kept
    assert canonical(Decimal("0.00000000")) == b"0E-8"
    assert canonical(1e-07) == b"1E-7"
    assert canonical(1e20) == b"100000000000000000000"
    assert canonical(-0.0) == b"0.0"
    assert canonical(0.1) == b"0.1"
    assert canonical(2**70) == str(2**70).encode()


def test_equal_numbers_in_either_spelling_fingerprint_alike() -> None:
    assert fingerprint({"amount": Decimal("1E+2")}) == fingerprint({"amount": Decimal("100")})
    assert fingerprint({"amount": Decimal("-0.00")}) == fingerprint({"amount": Decimal("0.00")})
    assert fingerprint({"amount": Decimal("1.50")}) != fingerprint({"amount": Decimal("1.5")})


def test_other_values() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert canonical({"at": at, "id": UUID(int=1), "t": (1, 2)}) == (
        b'{"at":"2026-01-02T03:04:05.000006Z","id":"00000000-0000-0000-0000-000000000001",'
        b'"t":[1,2]}'
    )


numbers = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
)
documents = st.recursive(
    st.one_of(numbers, st.text(), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)


@given(documents)
def test_reading_canonical_bytes_back_changes_nothing(document: object) -> None:
    written = canonical(document)
    assert canonical(loads(written)) == written


# An entry's content hash is computed on the hot path without building the document
# (ledger.content_hash); ``ledger verify`` recomputes it the general way. Both must agree.
texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
legs = st.tuples(st.sampled_from(["player", "system"]), texts, st.sampled_from(["real", "bonus"]),
                 texts, st.integers(min_value=-(2**63), max_value=2**63 - 1).filter(bool))
metadata = st.dictionaries(texts, documents, max_size=4)
moments = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]))


@given(tenant=st.uuids(), mode=st.sampled_from(list(Mode)), kind=texts,
       ref_type=st.none() | texts, ref_id=st.none() | texts, metadata=metadata,
       reverses=st.none() | st.integers(min_value=1, max_value=2**63 - 1), at=moments,
       postings=st.lists(legs, min_size=2, max_size=5))
def test_the_entry_hash_is_the_fingerprint_of_the_entry_content(
    tenant: UUID, mode: Mode, kind: str, ref_type: str | None, ref_id: str | None,
    metadata: dict[str, Any], reverses: int | None, at: datetime,
    postings: list[tuple[str, str, str, str, int]],
) -> None:
    realm = Realm(tenant, mode)
    expected = fingerprint(entry_content(realm, kind, ref_type, ref_id, metadata, reverses, at,
                                         postings))
    metadata_json = canonical(metadata).decode()
    assert content_hash(realm, kind, ref_type, ref_id, metadata, metadata_json, reverses, at,
                        postings) == expected


def test_the_entry_hash_of_unusual_values_takes_the_general_path() -> None:
    class Kind(str):
        pass

    realm = Realm(UUID(int=3), Mode.LIVE)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    usual: list[tuple[Any, ...]] = [("player", "p", "real", "USD", 1), ("system", "h", "real",
                                                                        "USD", -1)]
    unusual: list[tuple[Any, ...]] = [("player", "p", "real", "USD", Decimal(1)),
                                      ("system", Kind("h"), "real", "USD", -1)]
    for kind, postings, metadata in [(Kind("odd"), usual, {}), ("plain", unusual, {}),
                                     ("plain", usual, {"n": Decimal("1E+2"), "f": 0.5})]:
        assert content_hash(realm, kind, None, None, metadata, canonical(metadata).decode(), None,
                            at, postings) == fingerprint(
            entry_content(realm, kind, None, None, metadata, None, at, postings))


@given(before=documents, after=documents)
def test_a_part_encoded_on_its_own_and_embedded_hashes_as_the_whole(
    before: object, after: object,
) -> None:
    """The audit record encodes ``before`` and ``after`` once and embeds that JSON in
    the content it hashes: the same bytes as encoding the whole content at once."""
    whole = {"action": "x", "after": after, "before": before, "z": [1]}
    embedded = {"action": "x", "after": RawJSON(canonical(after).decode()),
                "before": RawJSON(canonical(before).decode()), "z": [1]}
    assert canonical(embedded) == canonical(whole)


# The canonical form is defined by simplejson's sorted, exact-decimal encoder; orjson
# writes it on the hot path. Every hash already stored depends on the two agreeing.
keys = st.one_of(st.text(max_size=6), st.integers(-3, 3))
rich = st.recursive(
    st.one_of(numbers, st.text(), st.booleans(), st.none(), st.uuids(), moments,
              st.integers(min_value=-(2**80), max_value=2**80)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=16,
)


@given(rich)
def test_the_fast_writer_gives_the_canonical_bytes(document: object) -> None:
    assert canonical(document) == _CANONICAL.encode(_as_stored(document)).encode("utf-8")
