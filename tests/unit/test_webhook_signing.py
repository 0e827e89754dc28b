from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from wowsino.webhooks import signing


def test_signature_verifies_with_the_reference_library() -> None:
    secret = signing.new_secret()
    body = json.dumps({"type": "lootbox.opened", "data": {"amount": 10}}).encode()
    import time

    headers = signing.headers(secret, "msg_123", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["data"] == {"amount": 10}


def test_reference_library_rejects_a_wrong_secret_and_a_stale_timestamp() -> None:
    secret, other = signing.new_secret(), signing.new_secret()
    body = b'{"a":1}'
    import time

    now = int(time.time())
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, signing.headers(secret, "m", now, body))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, signing.headers(secret, "m", now - 3600, body))


def test_known_vector() -> None:
    # HMAC-SHA256 over "<id>.<timestamp>.<body>" keyed by the base64 part of the secret
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                        b'{"test": 2432232314}') == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("bad", ["nope", "whsec_", "whsec_!!!!"])
def test_malformed_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        signing.secret_key(bad)
