"""A Hub88-style aggregator: the method names, fields and status codes of Hub88's
seamless Wallet API (operator side), as its public documentation describes them.

Hub88 appends its method paths to the wallet address an operator gives it; give it
``https://<api>/v1/aggregator/hub88`` and its calls arrive at::

    /v1/aggregator/hub88/user/balance          {user, token, request_uuid, game_code}
    /v1/aggregator/hub88/transaction/bet       {user, transaction_uuid, token, round,
                                                round_closed, request_uuid, game_code,
                                                currency, amount, ...}
    /v1/aggregator/hub88/transaction/win       the same, with reference_transaction_uuid
    /v1/aggregator/hub88/transaction/rollback  {user, transaction_uuid, token, round,
                                                request_uuid, reference_transaction_uuid,
                                                game_code, ...}

Amounts are integers of 1/100,000 of the currency's unit (3.56 is ``356000``). Every
answer is ``{user, status, request_uuid, currency, balance}``, ``status`` one of Hub88's
``RS_`` codes, with HTTP 200; a call we cannot read (not JSON, missing fields) or cannot
authenticate also gets a 4xx, and our ``{error, code}``.

Where this differs from Hub88's own service: it signs with RSA-SHA256 in
``X-Hub88-Signature``; the platform's contract for every aggregator is an HMAC-SHA256
in ``X-Signature`` with a shared secret (the brand's own, ``PUT
/v1/brands/<slug>/aggregators/hub88``, else ``WOWSINO_HUB88_AGGREGATOR_SECRET``), which is
what this adapter checks (docs/games.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wowsino.games.adapters.base import (
    Adapter,
    Answer,
    Call,
    Code,
    Game,
    Operation,
    Refused,
    json_object,
)
from wowsino.games.adapters.sandbox import ID, refusal
from wowsino.kernel.config import Settings
from wowsino.kernel.money import ASSETS

UNIT = 100_000  # Hub88 amounts are integers of 1/100,000 of the currency's unit

# The wallet's answers in Hub88's protocol: (HTTP status, status code). The one table.
CODES: dict[Code, tuple[int, str]] = {
    Code.OK: (200, "RS_OK"),
    Code.INVALID_SIGNATURE: (401, "RS_ERROR_INVALID_SIGNATURE"),
    Code.MALFORMED: (400, "RS_ERROR_WRONG_SYNTAX"),
    Code.WRONG_TYPES: (400, "RS_ERROR_WRONG_TYPES"),
    Code.INVALID_TOKEN: (200, "RS_ERROR_INVALID_TOKEN"),
    Code.TOKEN_EXPIRED: (200, "RS_ERROR_TOKEN_EXPIRED"),
    Code.INVALID_GAME: (200, "RS_ERROR_INVALID_GAME"),
    Code.WRONG_CURRENCY: (200, "RS_ERROR_WRONG_CURRENCY"),
    Code.INSUFFICIENT_FUNDS: (200, "RS_ERROR_NOT_ENOUGH_MONEY"),
    Code.PLAYER_BLOCKED: (200, "RS_ERROR_USER_DISABLED"),
    Code.LIMIT_EXCEEDED: (200, "RS_ERROR_LIMIT_REACHED"),
    Code.DUPLICATE: (200, "RS_ERROR_DUPLICATE_TRANSACTION"),
    Code.TRANSACTION_NOT_FOUND: (200, "RS_ERROR_TRANSACTION_DOES_NOT_EXIST"),
    # Hub88 has no code of its own for a bet whose id a rollback already used up
    Code.TRANSACTION_ROLLED_BACK: (200, "RS_ERROR_DUPLICATE_TRANSACTION"),
    Code.ROUND_MISMATCH: (200, "RS_ERROR_UNKNOWN"),
    Code.UNAVAILABLE: (503, "RS_ERROR_UNKNOWN"),
    Code.UNKNOWN: (500, "RS_ERROR_UNKNOWN"),
}

UUIDISH = Field(min_length=1, max_length=100)


class _Body(BaseModel):
    # Hub88 may send more fields than these (meta, bet, reward_uuid, …): ignored
    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1, max_length=128)
    request_uuid: str = UUIDISH
    user: str | None = Field(default=None, max_length=128)


class BalanceIn(_Body):
    game_code: str | None = Field(default=None, max_length=128)


class TransactionIn(_Body):
    transaction_uuid: str = Field(pattern=ID)
    round: str = Field(pattern=ID)
    round_closed: bool = False
    game_code: str = Field(min_length=1, max_length=128)
    reference_transaction_uuid: str | None = Field(default=None, pattern=ID)


class MoneyIn(TransactionIn):
    """A bet or a win."""

    currency: str = Field(min_length=1, max_length=16)
    amount: int = Field(ge=0, le=10**18)


class RollbackIn(TransactionIn):
    reference_transaction_uuid: str = Field(pattern=ID)


MODELS: dict[Operation, type[_Body]] = {
    Operation.BALANCE: BalanceIn, Operation.BET: MoneyIn, Operation.WIN: MoneyIn,
    Operation.ROLLBACK: RollbackIn,
}


def to_units(amount: int) -> Decimal:
    """A Hub88 amount in the currency's unit, exactly."""
    return Decimal(amount).scaleb(-5)


def from_minor(minor: int, currency: str) -> int:
    """Minor units as a Hub88 amount (an asset finer than 1/100,000 is rounded down)."""
    scale: int = ASSETS[currency].scale
    return int(minor * UNIT // 10**scale)


class Hub88Adapter(Adapter):
    name = "hub88"
    paths: ClassVar[dict[Operation, str]] = {
        Operation.BALANCE: "user/balance", Operation.BET: "transaction/bet",
        Operation.WIN: "transaction/win", Operation.ROLLBACK: "transaction/rollback"}

    codes = CODES

    def secret(self, settings: Settings) -> str | None:
        return settings.hub88_aggregator_secret

    def parse(self, operation: Operation, raw: bytes) -> Call:
        try:
            body = MODELS[operation].model_validate(json_object(raw))
        except ValidationError as error:
            raise refusal(error) from None
        values = body.model_dump()
        amount = values.get("amount")
        return Call(operation=operation, token=values["token"],
                    transaction_id=values.get("transaction_uuid"), round_id=values.get("round"),
                    game_id=values.get("game_code"),
                    amount=None if amount is None else to_units(amount),
                    currency=values.get("currency"),
                    reference_transaction_id=values.get("reference_transaction_uuid"),
                    round_closed=bool(values.get("round_closed", False)),
                    echo={"request_uuid": values["request_uuid"]})

    def echo(self, raw: bytes) -> dict[str, Any]:
        try:
            found = json_object(raw).get("request_uuid")
        except Refused:
            return {}
        return {"request_uuid": found} if isinstance(found, str) and len(found) <= 100 else {}

    def render(self, answer: Answer, echo: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, code = CODES[answer.code]
        body: dict[str, Any] = {"status": code, "request_uuid": echo.get("request_uuid")}
        if answer.user is not None:
            body["user"] = answer.user
        if answer.currency in ASSETS and answer.balance is not None:
            body["currency"] = answer.currency
            body["balance"] = from_minor(answer.balance, str(answer.currency))
        if status != 200:  # the platform's envelope too, for what is not the protocol
            body.update(error=answer.message, code=code)
        return status, body

    def games(self, settings: Settings) -> list[Game]:
        found = []
        for entry in settings.hub88_games:
            code, _, category = entry.partition("=")
            found.append(Game(code, code, category or "slots", self.name))
        return found

    def launch_url(self, settings: Settings, game: Game, token: str, *,
                   base: str | None = None) -> str:
        base = base or settings.hub88_games_url or "https://hub88.invalid/launch"
        return f"{base}?game_code={game.game_id}&token={token}"

    def request_schema(self, operation: Operation) -> dict[str, Any]:
        return MODELS[operation].model_json_schema()

    def answer_schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["status"], "properties": {
            "status": {"type": "string", "enum": sorted({c for _, c in CODES.values()})},
            "request_uuid": {"type": ["string", "null"]}, "user": {"type": "string"},
            "currency": {"type": "string"}, "balance": {"type": "integer"}}}


HUB88 = Hub88Adapter()
