"""What every game aggregator adapter provides: its method paths, its signature check,
its request parser, its catalogue and launch address, and the one table that names the
wallet's answers in its own protocol.

The wallet (``games/wallet.py``) speaks one language: a ``Call`` in, an ``Answer`` out,
with amounts in minor units and outcomes as ``Code``. An adapter translates both ways
and nothing else; adding an aggregator is one module registered in
``games/adapters/__init__.py`` (docs/games.md has the checklist).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from wowsino.kernel.config import Settings
from wowsino.kernel.ids import same_secret
from wowsino.kernel.jsonio import loads
from wowsino.kernel.vendors import sign


class Operation(StrEnum):
    """The four calls of a seamless wallet."""

    BALANCE = "balance"
    BET = "bet"
    WIN = "win"
    ROLLBACK = "rollback"


class Code(StrEnum):
    """What the wallet answers, before an adapter names it in its protocol."""

    OK = "OK"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"  # nothing was read, nothing recorded
    MALFORMED = "MALFORMED"  # not the protocol's syntax (nothing recorded)
    WRONG_TYPES = "WRONG_TYPES"  # a field of the wrong type or an unusable amount
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - no game session of this aggregator has it
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 - a bet or balance after the expiry
    INVALID_GAME = "INVALID_GAME"  # a bet on another game than the session's
    WRONG_CURRENCY = "WRONG_CURRENCY"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    PLAYER_BLOCKED = "PLAYER_BLOCKED"  # status, self-exclusion, a time-out
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"  # a daily wager or loss limit
    DUPLICATE = "DUPLICATE"  # a transaction id already used with other content
    TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"  # a rollback naming no bet of the player
    TRANSACTION_ROLLED_BACK = "TRANSACTION_ROLLED_BACK"  # a bet whose id a rollback voided
    ROUND_MISMATCH = "ROUND_MISMATCH"  # a round id another player's round already has
    UNAVAILABLE = "UNAVAILABLE"  # the database is down or the first call still runs: retry
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Call:
    """One aggregator call as the wallet reads it. ``amount`` is in the currency's unit
    (the wallet turns it into minor units with the session's currency); ``echo`` holds
    what the protocol wants repeated in the answer (a request id)."""

    operation: Operation
    token: str
    transaction_id: str | None = None
    round_id: str | None = None
    game_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    reference_transaction_id: str | None = None
    round_closed: bool = False
    echo: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The wallet's answer: a code, a message, and the player's playable balance (cash and
    bonus money in minor units of ``currency``) when it is known."""

    code: Code
    message: str = "ok"
    cash: int | None = None
    bonus: int | None = None
    currency: str | None = None
    user: str | None = None
    transaction_id: str | None = None
    field: str | None = None  # the body field a refusal of the call's content names

    @property
    def balance(self) -> int | None:
        return None if self.cash is None or self.bonus is None else self.cash + self.bonus

    def stored(self) -> dict[str, Any]:
        """The answer as a transaction keeps it (replays answer it again)."""
        return {"code": self.code.value, "message": self.message, "cash": self.cash,
                "bonus": self.bonus, "currency": self.currency, "user": self.user,
                "transaction_id": self.transaction_id}

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Answer:
        return cls(Code(stored["code"]), stored["message"], stored.get("cash"),
                   stored.get("bonus"), stored.get("currency"), stored.get("user"),
                   stored.get("transaction_id"))


class Refused(Exception):
    """A call refused before the wallet reads it (bad syntax or types), naming the field
    at fault when there is one."""

    def __init__(self, code: Code, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def answer(self) -> Answer:
        return Answer(self.code, self.message, field=self.field)


@dataclass(frozen=True)
class Game:
    """One game of a brand's catalogue. ``rtp``: the published return to player, percent."""

    game_id: str
    name: str
    category: str
    aggregator: str
    rtp: Decimal | None = None

    def view(self) -> dict[str, Any]:
        return {"game_id": self.game_id, "name": self.name, "category": self.category,
                "aggregator": self.aggregator, "rtp": self.rtp}


# the shape of every game session token the platform issues (games/sessions.py): a body
# naming anything else is not looked up before its signature verifies
TOKEN = re.compile(r"wgs_(live|test)_[0-9a-f]{48}")


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object (numbers as exact decimals), or ``Refused(MALFORMED)``."""
    try:
        value = loads(raw)
    except Exception:
        raise Refused(Code.MALFORMED, "the body is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(Code.MALFORMED, "the body is not a JSON object")
    return value


class Adapter(ABC):
    """One aggregator's protocol."""

    name: str  # the path segment: /v1/aggregator/<name>/...
    paths: ClassVar[dict[Operation, str]]  # each operation's method path after the name
    codes: ClassVar[dict[Code, tuple[int, str]]]  # each answer's (HTTP status, protocol code)
    signature_header = "x-signature"

    def statuses(self) -> dict[int, str]:
        """Each HTTP status the protocol answers with the codes it carries, for the API
        document."""
        found: dict[int, list[str]] = {}
        for status, code in self.codes.values():
            if code not in found.setdefault(status, []):
                found[status].append(code)
        return {status: ", ".join(codes) for status, codes in sorted(found.items())}

    @abstractmethod
    def secret(self, settings: Settings) -> str | None:
        """The platform's secret its calls are signed with (None: none; a brand may still
        set its own, ``games/aggregator_config.py``)."""

    def token_of(self, raw: bytes) -> str | None:
        """The game session token a body names, read best-effort before its signature is
        checked, only to choose the secret of the session's brand: nothing else of an
        unverified body is read."""
        try:
            found = json_object(raw).get("token")
        except Refused:
            return None
        return found if isinstance(found, str) and TOKEN.fullmatch(found) else None

    def verify(self, headers: Any, raw: bytes, secret: str) -> bool:
        """Whether the signature header is the HMAC of the raw body: checked before the
        body is even parsed."""
        given = (headers.get(self.signature_header) or "").strip()
        return bool(given) and same_secret(given, sign(secret, raw))

    @abstractmethod
    def parse(self, operation: Operation, raw: bytes) -> Call:
        """The call in ``raw``; raises ``Refused`` (MALFORMED, WRONG_TYPES)."""

    def echo(self, raw: bytes) -> dict[str, Any]:
        """What an answer repeats, read best-effort from a body the wallet refused."""
        return {}

    @abstractmethod
    def render(self, answer: Answer, echo: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The HTTP status and body of ``answer`` in the protocol (through ``codes``, the
        adapter's one table of codes)."""

    @abstractmethod
    def games(self, settings: Settings) -> list[Game]:
        """The games this aggregator offers (a brand's catalogue lists them while the
        aggregator is available to it)."""

    @abstractmethod
    def launch_url(self, settings: Settings, game: Game, token: str, *,
                   base: str | None = None) -> str:
        """Where a launched game opens (``base``: the brand's own address of the
        aggregator's games, None: the platform's)."""

    @abstractmethod
    def request_schema(self, operation: Operation) -> dict[str, Any]:
        """The JSON schema of the operation's body, for the API document."""

    @abstractmethod
    def answer_schema(self) -> dict[str, Any]:
        """The JSON schema of a 200 answer, for the API document."""
