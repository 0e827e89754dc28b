"""The Python snippets of the documentation that check a result run as written against
real results (the ``curl`` examples are checked by ``test_curl_examples``)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.docs.examples import ROOT


def snippet(document: str, containing: str) -> str:
    """The ``python`` block of ``document`` that contains ``containing``."""
    text = (ROOT / document).read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"{document}: {len(found)} python blocks contain {containing!r}"
    return found[0]


async def test_the_mystery_jackpot_check_verifies_real_drops(
        tenant: Tenant) -> None:
    code = compile(snippet("docs/engines/jackpots.md", "draw_uniform"), "jackpots.md", "exec")
    r = await tenant.post("/v1/players", {"username": "alice", "email": "a@example.com"})
    assert r.status_code == 201, r.text
    # 10.03 and 12.29 are not exact as binary floats: the snippet must not need them to be
    jackpot: dict[str, Any] = (await tenant.post("/v1/jackpots", {
        "name": "Mystery", "currency": "USD", "seed_usd": "10.03", "must_drop_at": "12.29",
        "mystery": True})).json()["jackpot"]
    path = f"/v1/jackpots/{jackpot['id']}"
    for i in range(12):  # 12 × 0.21 passes any point in (10.03, 12.29]
        r = await tenant.post(f"{path}/contribute", {
            "user_id": "alice", "source_wager_id": f"w{i}", "amount": "0.21"})
        assert r.status_code == 201, r.text
        if r.json()["dropped"] is not None:
            break
    r = await tenant.post(f"{path}/drop", {"winner_user_id": "alice"})  # round 2, by hand
    assert r.status_code == 201, r.text
    newest = await tenant.get(f"{path}/drops", params={"limit": 1})
    older = await tenant.get(f"{path}/drops",
                             params={"limit": 1, "cursor": newest.json()["next_cursor"]})
    assert [r.json()["data"][0]["trigger_reason"] for r in (newest, older)] == [
        "manual", "mystery"]
    for listing in (newest, older):
        exec(code, {"text": listing.text})  # noqa: S102 -- the snippet is the subject under test
