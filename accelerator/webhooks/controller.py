"""``POST /v1/webhooks/insurers/{provider_id}`` and the admin view of the inbox."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal
from accelerator.infra.openapi import declares
from accelerator.infra.params import PageOffset, ProviderId
from accelerator.webhooks.delivery_doc import WEBHOOK_BODY
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.repository import purged_at
from accelerator.webhooks.service import MAX_BODY_BYTES, WebhookService, status_url
from schemas import InboxEntry, InboxStatus, ReprocessCount, ReprocessRange, WebhookAck

# The column is a 32-bit integer: a larger id is a 422 naming the field, not a driver overflow.
InboxId = Annotated[int, Parameter(ge=1, le=2**31 - 1)]


class WebhookController(Controller):
    path = "/v1/webhooks/insurers"
    tags = ["webhooks"]

    @post(
        "/{provider_id:str}",
        operation_id="receiveInsurerWebhook",
        summary="Signed insurer callbacks (Standard Webhooks)",
        description=(
            "Authenticated by the signature, not an API key. Answers 200 once the delivery is "
            "stored (a repeated `webhook-id` is acknowledged as a duplicate), with the "
            "delivery's id and a `status_url` where a partner key follows what becomes of it."
        ),
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_BODY_BYTES,
        opt=declares(
            {
                400: ["bad_webhook_headers"],
                401: ["bad_webhook_signature"],
                404: ["provider_not_found"],
            },
            raw_body=WEBHOOK_BODY,
        ),
    )
    async def receive(
        self,
        webhooks: NamedDependency[WebhookService],
        request: Request[Any, Any, Any],
        provider_id: FromPath[ProviderId],
    ) -> WebhookAck:
        body = await request.body()
        receipt = await webhooks.receive(provider_id, dict(request.headers), body)
        return WebhookAck(
            receipt.inbox_id, receipt.status, receipt.duplicate, status_url(receipt.inbox_id)
        )


class InboxController(Controller):
    path = "/v1/admin/webhook-inbox"
    tags = ["webhooks"]
    guards = [requires()]

    @get(operation_id="listWebhookInbox", summary="Stored deliveries by status (admin, paginated)")
    async def list_inbox(
        self,
        webhooks: NamedDependency[WebhookService],
        request: Request[Principal, Any, Any],
        status: FromQuery[InboxStatus | None] = None,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=200)]] = 50,
        # Bounded: a huge number failed in the database driver (a 500 the schemathesis drill found).
        offset: FromQuery[PageOffset] = 0,
    ) -> list[InboxEntry]:
        return [_entry(row) for row in await webhooks.inbox_page(status, limit, offset)]

    @get(
        "/{inbox_id:int}",
        operation_id="getWebhookInboxEntry",
        summary="One stored delivery with its status, attempts and last error (admin)",
        opt=declares({404: ["inbox_id_not_found"]}),
    )
    async def get_entry(
        self,
        webhooks: NamedDependency[WebhookService],
        request: Request[Principal, Any, Any],
        inbox_id: FromPath[InboxId],
    ) -> InboxEntry:
        return _entry(await webhooks.get(inbox_id))

    @post(
        "/{inbox_id:int}/reprocess",
        operation_id="reprocessWebhook",
        summary="Apply a stored delivery again (admin)",
        description=(
            "Makes the delivery due now; a worker applies it within moments. Applying is "
            "idempotent: what was already recorded is not recorded twice."
        ),
        status_code=HTTP_202_ACCEPTED,
        opt=declares(
            {404: ["inbox_id_not_found"], 409: ["delivery_in_progress", "delivery_purged"]}
        ),
    )
    async def reprocess(
        self,
        webhooks: NamedDependency[WebhookService],
        request: Request[Principal, Any, Any],
        inbox_id: FromPath[InboxId],
    ) -> InboxEntry:
        return _entry(await webhooks.reprocess(inbox_id))

    @post(
        "/reprocess",
        operation_id="reprocessWebhooks",
        summary="Apply again every stored delivery received in a time range (admin)",
        status_code=HTTP_202_ACCEPTED,
    )
    async def reprocess_range(
        self,
        webhooks: NamedDependency[WebhookService],
        request: Request[Principal, Any, Any],
        data: JSONBody[ReprocessRange],
    ) -> ReprocessCount:
        count = await webhooks.reprocess_received(data.received_from, data.received_to, data.status)
        return ReprocessCount(requeued=count)


def _entry(row: InboxEvent) -> InboxEntry:
    return InboxEntry(
        row.id,
        row.provider_id,
        row.webhook_id,
        InboxStatus(row.status),
        row.attempts,
        row.error,
        row.received_at,
        row.next_attempt_at,
        row.applied_at,
        purged_at(row),
    )
