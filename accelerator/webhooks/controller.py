"""``POST /v1/webhooks/insurers/{provider_id}`` and the admin view of the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, Parameter
from litestar.status_codes import HTTP_200_OK

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal
from accelerator.webhooks.service import MAX_BODY_BYTES, WebhookService

ProviderId = Annotated[str, Parameter(min_length=1, max_length=64)]


class WebhookAck(msgspec.Struct, frozen=True):
    """Stored before this answer; ``status`` is what applying it did (applied, parked, failed)."""

    inbox_id: int
    status: str
    duplicate: bool


class InboxEntry(msgspec.Struct, frozen=True):
    id: int
    provider_id: str
    webhook_id: str
    status: str
    attempts: int
    error: str | None
    received_at: datetime
    applied_at: datetime | None


class WebhookController(Controller):
    path = "/v1/webhooks/insurers"
    tags = ["webhooks"]

    @post(
        "/{provider_id:str}",
        operation_id="receiveInsurerWebhook",
        summary="Signed insurer callbacks (Standard Webhooks)",
        security=[],
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_BODY_BYTES,
    )
    async def receive(
        self, request: Request[Any, Any, Any], provider_id: FromPath[ProviderId]
    ) -> WebhookAck:
        service: WebhookService = request.app.state.webhooks
        body = await request.body()
        receipt = await service.receive(provider_id, dict(request.headers), body)
        return WebhookAck(receipt.inbox_id, receipt.status, receipt.duplicate)


class InboxController(Controller):
    path = "/v1/admin/webhook-inbox"
    tags = ["webhooks"]
    guards = [requires()]

    @get(operation_id="listWebhookInbox", summary="Stored deliveries by status (admin, paginated)")
    async def list_inbox(
        self,
        request: Request[Principal, Any, Any],
        status: FromQuery[
            Annotated[str | None, Parameter(pattern="^(received|applied|parked|failed)$")]
        ] = None,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=200)]] = 50,
        offset: FromQuery[Annotated[int, Parameter(ge=0)]] = 0,
    ) -> list[InboxEntry]:
        service: WebhookService = request.app.state.webhooks
        rows = await service.inbox(status, limit, offset)
        return [
            InboxEntry(
                r.id,
                r.provider_id,
                r.webhook_id,
                r.status,
                r.attempts,
                r.error,
                r.received_at,
                r.applied_at,
            )
            for r in rows
        ]

    @post(
        "/{inbox_id:int}/reprocess",
        operation_id="reprocessWebhook",
        summary="Apply a stored delivery again (admin)",
        status_code=HTTP_200_OK,
    )
    async def reprocess(
        self, request: Request[Principal, Any, Any], inbox_id: FromPath[int]
    ) -> dict[str, str]:
        service: WebhookService = request.app.state.webhooks
        return {"status": await service.process(inbox_id)}
