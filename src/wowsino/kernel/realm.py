"""Realms and actors: who acts, and in which world."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Mode(StrEnum):
    LIVE = "live"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class Realm:
    """``(tenant, mode)``: live and test are separate worlds. Every query takes one."""

    tenant_id: UUID
    mode: Mode

    @property
    def params(self) -> dict[str, object]:
        return {"tenant_id": self.tenant_id, "mode": self.mode.value}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a change: an API key, an operator, the platform admin or the system."""

    type: str  # api_key | operator | admin | system
    id: str

    @property
    def label(self) -> str:
        return f"{self.type}:{self.id}"


SYSTEM = Actor("system", "wowsino")
ADMIN = Actor("admin", "platform")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
