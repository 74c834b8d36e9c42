"""``/v1/admin/webhook-endpoints``: subscriber endpoints, their messages, attempts and replays.

Admin keys manage every endpoint; a seller key the endpoints of its own seller (the service says
how). Secrets appear only in the answers that make them (creation, rotation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.infra.openapi import declares
from accelerator.infra.params import PageOffset, SellerIdFilter
from accelerator.notifications.models import AttemptRow, EndpointRow, MessageRow
from accelerator.notifications.service import NotificationService, rotating_until
from schemas import (
    ONE_LINE_PATTERN,
    DeliveryAttempt,
    MessageStatus,
    NotificationMessage,
    NotificationType,
    ReplayCount,
    ReplaySince,
    WebhookEndpoint,
    WebhookEndpointBody,
    WebhookEndpointSecret,
    WebhookEndpointUpdate,
)

EndpointId = Annotated[str, Parameter(min_length=1, max_length=40, pattern=ONE_LINE_PATTERN)]
# The column is a 32-bit integer: a larger id is a 422 naming the field, not a driver overflow.
MessageId = Annotated[int, Parameter(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Parameter(ge=1, le=200)]

_ENDPOINT_404 = declares({404: ["webhook_endpoint_not_found"]})
_MESSAGE_404 = declares({404: ["webhook_endpoint_not_found", "notification_message_not_found"]})


class WebhookEndpointController(Controller):
    path = "/v1/admin/webhook-endpoints"
    tags = ["notifications"]
    guards = [requires(Role.SELLER)]

    @post(
        operation_id="createWebhookEndpoint",
        summary="Register a subscriber endpoint (admin, or a seller key for its own seller)",
        description=(
            "The URL must be https and resolve only to public addresses (docs/notifications.md). "
            "The answer holds the endpoint's signing secret: it is shown this once."
        ),
        status_code=HTTP_201_CREATED,
        opt=declares({403: ["forbidden"]}),
    )
    async def create(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        data: JSONBody[WebhookEndpointBody],
    ) -> WebhookEndpointSecret:
        row, secret = await notifications.create(request.user, data)
        return WebhookEndpointSecret(endpoint=endpoint_view(row), secret=secret)

    @get(
        operation_id="listWebhookEndpoints",
        summary="Subscriber endpoints, the earliest registered first (paginated)",
        description="An admin may filter by `seller_id`; a seller key lists its seller's.",
    )
    async def list_endpoints(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        seller_id: FromQuery[SellerIdFilter] = None,
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[PageOffset] = 0,
    ) -> list[WebhookEndpoint]:
        rows = await notifications.page(request.user, seller_id, limit, offset)
        return [endpoint_view(row) for row in rows]

    @get(
        "/{endpoint_id:str}",
        operation_id="getWebhookEndpoint",
        summary="One subscriber endpoint",
        opt=_ENDPOINT_404,
    )
    async def get_endpoint(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
    ) -> WebhookEndpoint:
        return endpoint_view(await notifications.get(request.user, endpoint_id))

    @patch(
        "/{endpoint_id:str}",
        operation_id="updateWebhookEndpoint",
        summary="Change an endpoint's URL or event types, or enable or disable it",
        opt=_ENDPOINT_404,
    )
    async def update_endpoint(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
        data: JSONBody[WebhookEndpointUpdate],
    ) -> WebhookEndpoint:
        return endpoint_view(await notifications.update(request.user, endpoint_id, data))

    @delete(
        "/{endpoint_id:str}",
        operation_id="deleteWebhookEndpoint",
        summary="Remove an endpoint with its messages and attempts",
        opt=_ENDPOINT_404,
    )
    async def delete_endpoint(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
    ) -> None:
        await notifications.delete(request.user, endpoint_id)

    @post(
        "/{endpoint_id:str}/rotate-secret",
        operation_id="rotateWebhookEndpointSecret",
        summary="A new signing secret; the previous one goes on signing for 24 hours",
        status_code=HTTP_200_OK,
        opt=_ENDPOINT_404,
    )
    async def rotate_secret(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
    ) -> WebhookEndpointSecret:
        row, secret = await notifications.rotate(request.user, endpoint_id)
        return WebhookEndpointSecret(endpoint=endpoint_view(row), secret=secret)

    @get(
        "/{endpoint_id:str}/messages",
        operation_id="listWebhookEndpointMessages",
        summary="An endpoint's messages, the latest first (paginated)",
        opt=_ENDPOINT_404,
    )
    async def list_messages(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
        status: FromQuery[MessageStatus | None] = None,
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[PageOffset] = 0,
    ) -> list[NotificationMessage]:
        rows = await notifications.messages(request.user, endpoint_id, status, limit, offset)
        return [message_view(row) for row in rows]

    @get(
        "/{endpoint_id:str}/messages/{message_id:int}/attempts",
        operation_id="listNotificationAttempts",
        summary="A message's delivery attempts, the earliest first (paginated)",
        opt=_MESSAGE_404,
    )
    async def list_attempts(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
        message_id: FromPath[MessageId],
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[PageOffset] = 0,
    ) -> list[DeliveryAttempt]:
        rows = await notifications.attempts(request.user, endpoint_id, message_id, limit, offset)
        return [attempt_view(row) for row in rows]

    @post(
        "/{endpoint_id:str}/messages/{message_id:int}/replay",
        operation_id="replayNotificationMessage",
        summary="Send a message again (same webhook-id, fresh retry schedule)",
        status_code=HTTP_202_ACCEPTED,
        opt=_MESSAGE_404,
    )
    async def replay_message(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
        message_id: FromPath[MessageId],
    ) -> NotificationMessage:
        return message_view(await notifications.replay(request.user, endpoint_id, message_id))

    @post(
        "/{endpoint_id:str}/replay",
        operation_id="replayWebhookEndpoint",
        summary="Send again every message of the endpoint created since a time",
        status_code=HTTP_202_ACCEPTED,
        opt=_ENDPOINT_404,
    )
    async def replay_since(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Principal, Any, Any],
        endpoint_id: FromPath[EndpointId],
        data: JSONBody[ReplaySince],
    ) -> ReplayCount:
        count = await notifications.replay_since(request.user, endpoint_id, data.since)
        return ReplayCount(replayed=count)


def endpoint_view(row: EndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        url=row.url,
        event_types=[NotificationType(t) for t in row.event_types],
        seller_id=row.seller_id,
        marketplace=row.marketplace,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        rotating_until=rotating_until(row, datetime.now(UTC)),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def message_view(row: MessageRow) -> NotificationMessage:
    return NotificationMessage(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=NotificationType(row.event_type),
        status=MessageStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def attempt_view(row: AttemptRow) -> DeliveryAttempt:
    return DeliveryAttempt(
        id=row.id,
        message_id=row.message_id,
        attempted_at=row.attempted_at,
        status_code=row.status_code,
        error=row.error,
        latency_ms=row.latency_ms,
    )


__all__ = ["WebhookEndpointController", "attempt_view", "endpoint_view", "message_view"]
