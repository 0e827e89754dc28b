"""``/v1/webhooks`` and ``/v1/webhook-deliveries`` (scope ``webhooks:manage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.auth import Principal, scoped
from wowsino.kernel.bodies import refuse_null
from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.openapi import never_null
from wowsino.kernel.pagination import Limit, check_limit
from wowsino.kernel.writes import platform_of, write
from wowsino.webhooks import service

router = APIRouter(tags=["webhooks"], route_class=DecimalRoute)
Manage = Annotated[Principal, scoped("webhooks:manage")]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)
    events: list[str] = Field(min_length=1, max_length=100)
    signing_secret: str | None = None
    description: str | None = Field(default=None, max_length=500)
    idempotency_key: str | None = None


class KeyOnly(BaseModel):
    """The body of a write that needs nothing else: optional, a JSON object."""

    model_config = ConfigDict(extra="forbid")
    idempotency_key: str | None = None


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra=never_null("url", "events", "status"))
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    status: Literal["active", "paused"] | None = None
    idempotency_key: str | None = None

    _present = refuse_null("url", "events", "status")


@router.post("/webhooks", status_code=201, summary="Subscribe a URL to events")
async def create_webhook(body: WebhookIn, request: Request, principal: Manage) -> MoneyJSONResponse:
    production = platform_of(request).settings.production

    async def create(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        return {"webhook": await service.create(
            conn, realm=principal.realm, url=body.url, events=body.events,
            secret=body.signing_secret, description=body.description,
            production=production, actor=principal.actor, at=at)}

    return await write(request, principal, payload=body.model_dump(), status=201, call=create)


@router.get("/webhooks", summary="List subscriptions")
async def list_webhooks(request: Request, principal: Manage) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse({"data": await service.list_all(conn, principal.realm),
                                  "next_cursor": None})


@router.get("/webhooks/{webhook_id}", summary="One subscription")
async def get_webhook(webhook_id: str, request: Request, principal: Manage) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        row = await service.get(conn, principal.realm, webhook_id)
    return MoneyJSONResponse({"webhook": {k: row[k] for k in service.PUBLIC}})


@router.patch("/webhooks/{webhook_id}", summary="Change events, URL or status (active|paused)")
async def update_webhook(webhook_id: str, body: WebhookPatch, request: Request,
                         principal: Manage) -> MoneyJSONResponse:
    production = platform_of(request).settings.production
    changes = body.model_dump(exclude_unset=True)
    payload = dict(changes)
    changes.pop("idempotency_key", None)

    async def update(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        return {"webhook": await service.update(
            conn, realm=principal.realm, ref=webhook_id, changes=changes,
            production=production, actor=principal.actor, at=at)}

    return await write(request, principal, payload=payload, status=200, call=update)


@router.delete("/webhooks/{webhook_id}", summary="Delete a subscription (its log is kept)")
async def delete_webhook(webhook_id: str, request: Request, principal: Manage) -> MoneyJSONResponse:
    async def delete(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        return {"webhook": await service.delete(
            conn, realm=principal.realm, ref=webhook_id, actor=principal.actor, at=at)}

    return await write(request, principal, payload={}, status=200, call=delete)


@router.get("/webhooks/{webhook_id}/deliveries", summary="The delivery log, newest first")
async def list_deliveries(
    webhook_id: str, request: Request, principal: Manage,
    status: Literal["pending", "delivering", "succeeded", "failed"] | None = None,
    limit: Limit = None, cursor: str | None = None,
) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await service.deliveries(
            conn, principal.realm, webhook_id, status=status, limit=check_limit(limit),
            cursor=cursor))


@router.post("/webhook-deliveries/{delivery_id}/redeliver", summary="Send a delivery again")
async def redeliver(delivery_id: str, request: Request, principal: Manage,
                    body: KeyOnly | None = None) -> MoneyJSONResponse:
    async def send_again(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        return {"delivery": await service.redeliver(
            conn, realm=principal.realm, delivery_ref=delivery_id, actor=principal.actor, at=at)}

    return await write(request, principal, payload=(body or KeyOnly()).model_dump(), status=200,
                       call=send_again)


@router.post("/webhooks/{webhook_id}/ping", status_code=201, summary="Send a webhook.ping")
async def ping(webhook_id: str, request: Request, principal: Manage,
               body: KeyOnly | None = None) -> MoneyJSONResponse:
    async def send_ping(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        return {"delivery": await service.ping(conn, realm=principal.realm, ref=webhook_id, at=at)}

    return await write(request, principal, payload=(body or KeyOnly()).model_dump(), status=201,
                       call=send_ping)
