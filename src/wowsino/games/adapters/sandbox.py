"""The sandbox aggregator's protocol: the platform's own, spoken by the game simulator
``wowsino sandbox games`` (``wowsino.sandbox.games``, docs/games.md).

``POST /v1/aggregator/sandbox/{balance,bet,win,rollback}``, signed: ``X-Signature`` is the
lowercase hex HMAC-SHA256 of the raw body with the brand's secret (``PUT
/v1/brands/<slug>/aggregators/sandbox``), else ``WOWSINO_SANDBOX_AGGREGATOR_SECRET``.
Amounts are decimal numbers in the currency's unit. Bodies::

    balance   {token, game_id?, currency?}
    bet, win  {token, transaction_id, round_id, game_id, amount, currency, round_closed?}
    rollback  {token, transaction_id, round_id, game_id, reference_transaction_id,
               amount?, currency?}

Every answer is ``{code, balance, cash, bonus, currency, transaction_id}`` (``code`` is
``OK``); a refusal adds ``error`` and carries an HTTP status of its own (the table below).
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
from wowsino.kernel.config import Settings
from wowsino.kernel.money import ASSETS, from_minor

ID = r"^[!-~]{1,100}$"  # transaction and round ids: 1 to 100 visible ASCII characters

# The wallet's answers in this protocol: (HTTP status, code). The one table.
CODES: dict[Code, tuple[int, str]] = {
    Code.OK: (200, "OK"),
    Code.INVALID_SIGNATURE: (401, "INVALID_SIGNATURE"),
    Code.MALFORMED: (400, "VALIDATION_ERROR"),
    Code.WRONG_TYPES: (400, "VALIDATION_ERROR"),
    Code.INVALID_TOKEN: (401, "INVALID_TOKEN"),
    Code.TOKEN_EXPIRED: (401, "TOKEN_EXPIRED"),
    Code.INVALID_GAME: (400, "INVALID_GAME"),
    Code.WRONG_CURRENCY: (400, "WRONG_CURRENCY"),
    Code.INSUFFICIENT_FUNDS: (402, "INSUFFICIENT_FUNDS"),
    Code.PLAYER_BLOCKED: (403, "PLAYER_BLOCKED"),
    Code.LIMIT_EXCEEDED: (403, "LIMIT_EXCEEDED"),
    Code.DUPLICATE: (409, "DUPLICATE_TRANSACTION"),
    Code.TRANSACTION_NOT_FOUND: (404, "NO_TRANSACTION"),
    Code.TRANSACTION_ROLLED_BACK: (409, "TRANSACTION_ROLLED_BACK"),
    Code.ROUND_MISMATCH: (409, "ROUND_MISMATCH"),
    Code.UNAVAILABLE: (503, "SERVICE_UNAVAILABLE"),
    Code.UNKNOWN: (500, "INTERNAL"),
}

# The simulator's games and their published returns to player (docs/games.md).
GAMES = (
    Game("sandbox-slot", "Sandbox Slot", "slots", "sandbox", Decimal("96.00")),
    Game("sandbox-roulette", "Sandbox Roulette", "table", "sandbox", Decimal("97.30")),
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BalanceIn(_Body):
    token: str = Field(min_length=1, max_length=128)
    game_id: str | None = Field(default=None, min_length=1, max_length=128)
    currency: str | None = Field(default=None, min_length=1, max_length=16)


class MoneyIn(_Body):
    """A bet or a win."""

    token: str = Field(min_length=1, max_length=128)
    transaction_id: str = Field(pattern=ID)
    round_id: str = Field(pattern=ID)
    game_id: str = Field(min_length=1, max_length=128)
    amount: Decimal
    currency: str = Field(min_length=1, max_length=16)
    round_closed: bool = False


class RollbackIn(_Body):
    token: str = Field(min_length=1, max_length=128)
    transaction_id: str = Field(pattern=ID)
    round_id: str = Field(pattern=ID)
    game_id: str = Field(min_length=1, max_length=128)
    reference_transaction_id: str = Field(pattern=ID)
    amount: Decimal | None = None
    currency: str | None = Field(default=None, min_length=1, max_length=16)


MODELS: dict[Operation, type[_Body]] = {
    Operation.BALANCE: BalanceIn, Operation.BET: MoneyIn, Operation.WIN: MoneyIn,
    Operation.ROLLBACK: RollbackIn,
}


def refusal(error: ValidationError) -> Refused:
    """A parse failure: missing or unknown fields are syntax, anything else types."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    syntax = first.get("type") in ("missing", "extra_forbidden")
    return Refused(Code.MALFORMED if syntax else Code.WRONG_TYPES,
                   f"{where}: {first.get('msg', 'invalid')}", where)


class SandboxAdapter(Adapter):
    name = "sandbox"
    paths: ClassVar[dict[Operation, str]] = {
        Operation.BALANCE: "balance", Operation.BET: "bet", Operation.WIN: "win",
        Operation.ROLLBACK: "rollback"}

    codes = CODES

    def secret(self, settings: Settings) -> str | None:
        return settings.sandbox_aggregator_secret or None

    def parse(self, operation: Operation, raw: bytes) -> Call:
        try:
            body = MODELS[operation].model_validate(json_object(raw))
        except ValidationError as error:
            raise refusal(error) from None
        values = body.model_dump()
        return Call(operation=operation, token=values["token"],
                    transaction_id=values.get("transaction_id"),
                    round_id=values.get("round_id"), game_id=values.get("game_id"),
                    amount=values.get("amount"), currency=values.get("currency"),
                    reference_transaction_id=values.get("reference_transaction_id"),
                    round_closed=bool(values.get("round_closed", False)))

    def render(self, answer: Answer, echo: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, code = CODES[answer.code]
        body: dict[str, Any] = {"code": code}
        if status != 200:
            body["error"] = answer.message
            if answer.field is not None:
                body["details"] = {"field": answer.field}
        currency = ASSETS.get(answer.currency or "")
        if currency is not None and answer.cash is not None and answer.bonus is not None:
            body.update(balance=from_minor(answer.cash + answer.bonus, currency),
                        cash=from_minor(answer.cash, currency),
                        bonus=from_minor(answer.bonus, currency), currency=currency.code)
        if answer.transaction_id is not None:
            body["transaction_id"] = answer.transaction_id
        return status, body

    def games(self, settings: Settings) -> list[Game]:
        return list(GAMES)

    def launch_url(self, settings: Settings, game: Game, token: str, *,
                   base: str | None = None) -> str:
        return f"{base or settings.sandbox_games_url}/games/{game.game_id}?token={token}"

    def request_schema(self, operation: Operation) -> dict[str, Any]:
        return MODELS[operation].model_json_schema()

    def answer_schema(self) -> dict[str, Any]:
        money = {"type": "number"}
        return {"type": "object", "required": ["code"], "properties": {
            "code": {"type": "string", "enum": ["OK"]}, "balance": money, "cash": money,
            "bonus": money, "currency": {"type": "string"},
            "transaction_id": {"type": "string"}}}


SANDBOX = SandboxAdapter()
