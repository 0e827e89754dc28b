"""Isolation of the PSP callback route, which takes no key: a callback reaches only the
deposit or withdrawal its reference names, in that reference's tenant and mode, and only
with the secret of that row's brand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.integration.support import assert_error
from tests.integration.wallet_support import (
    Psp,
    count_rows,
    new_player,
    real_balance,
    signed,
)
from tests.integration.wl_support import WhiteLabel, make_white_label


def _fields(deposit: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"transaction_id": deposit["psp_reference"], "reference": deposit["reference"],
            "type": "payment", "status": "completed", "amount": deposit["amount"],
            "currency": "USD", **changes}


async def test_a_callback_reaches_only_the_realm_and_row_its_reference_names(
    wl: WhiteLabel, served: int, psp: Psp, client: httpx.AsyncClient, engine: Any,
) -> None:
    other = await make_white_label(client, "othercasino")
    own_secret = "other-brands-own-secret"
    r = await other.put("/v1/brands/main/psp", {"adapter": "sandbox",
                                                "credentials": {"secret": own_secret}})
    assert r.status_code == 200, r.text
    alice = await new_player(wl, "alice")
    bob = await new_player(other, "bob")
    deposits = {}
    for who in (alice, bob):
        r = await who.post("/v1/player/deposits", {"amount": "12.00", "currency": "USD",
                                                   "method": "card_slow"})
        assert r.status_code == 201, r.text
        deposits[who.username] = r.json()["deposit"]
    # bob's brand has its own secret, which the shared sandbox does not know: its PSP
    # request was refused, and the shared secret opens nothing of bob's
    assert deposits["bob"]["status"] == "failed"
    raw, headers = signed(psp.secret, **_fields(deposits["bob"], transaction_id="x-1"))
    assert_error(await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers),
                 401, "SIGNATURE_INVALID")
    # a signature with bytes no hex digest has (a header may carry any) is refused the same way
    raw, _ = signed(psp.secret, **_fields(deposits["alice"]))
    r = await client.post("/v1/psp/sandbox/callback", content=raw, headers=[
        (b"content-type", b"application/json"), (b"x-signature", "ключ".encode() * 8)])
    assert_error(r, 401, "SIGNATURE_INVALID")
    # a reference moved to another tenant or mode names nothing
    alice_ref = deposits["alice"]["reference"]
    tenant_hex = alice_ref.split("_")[2]
    for forged in (alice_ref.replace("dep_test_", "dep_live_"),
                   alice_ref.replace(tenant_hex, other.id.replace("-", "")),
                   alice_ref.replace("dep_", "wdr_")):
        raw, headers = signed(psp.secret, **_fields(deposits["alice"], reference=forged))
        r = await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers)
        assert_error(r, 404)
    # bob's secret settles bob's deposit only (a late completion of a refused payment)
    raw, headers = signed(own_secret, **_fields(deposits["bob"], transaction_id="late-1"))
    r = await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
    assert await real_balance(other, "bob") == Decimal("12.00")
    assert await real_balance(wl, "alice") == Decimal("0")
    assert await count_rows(engine, "psp_callbacks", wl) == 0
    # a payment callback for a withdrawal's reference, or the reverse, is refused
    raw, headers = signed(psp.secret, **_fields(deposits["alice"], type="payout"))
    assert_error(await client.post("/v1/psp/sandbox/callback", content=raw, headers=headers),
                 400)
