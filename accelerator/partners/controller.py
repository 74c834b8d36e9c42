"""``/v1/partners/me``: what an insurer partner, with a ``partner`` key, sees of its own traffic.

Every read is filtered by the key's provider id, never by anything the caller sends: another
insurer's delivery answers as if it did not exist. The webhooks and quoting domains own the
tables; this controller only asks their services.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter

from accelerator.auth.guards import only
from accelerator.auth.principal import Principal, Role
from accelerator.errors import Forbidden
from accelerator.infra.openapi import declares
from accelerator.infra.params import PageOffset
from accelerator.quoting.service import QuotingService
from accelerator.webhooks.controller import InboxId
from accelerator.webhooks.service import WebhookService
from schemas import InboxStatus, OutcomeStatus, PartnerDelivery, PartnerQuoteCall

Limit = Annotated[int, Parameter(ge=1, le=200)]


def provider_of(principal: Principal) -> str:
    """The insurer a partner key reads for (the guard let only partner keys through; a partner
    key stored without a provider, which issuing refuses, reads nothing)."""
    if principal.role is not Role.PARTNER or not principal.provider_id:
        raise Forbidden("This key is bound to no insurer.")
    return principal.provider_id


class PartnerController(Controller):
    path = "/v1/partners/me"
    tags = ["partners"]
    guards = [only(Role.PARTNER)]

    @get(
        "/deliveries",
        operation_id="listPartnerDeliveries",
        summary="The calling partner's webhook deliveries, newest first (partner, paginated)",
        description=(
            "Every delivery the service stored for the key's insurer, the latest received "
            "first, with its status, attempts and, when it is not applied, the reason. Filter "
            "by `status`; page with `limit` and `offset`. Bodies are left out of the list."
        ),
    )
    async def list_deliveries(
        self,
        webhooks: NamedDependency[WebhookService],
        request: Request[Principal, Any, Any],
        status: FromQuery[InboxStatus | None] = None,
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[PageOffset] = 0,
    ) -> list[PartnerDelivery]:
        provider_id = provider_of(request.user)
        return await webhooks.partner_deliveries(provider_id, status, limit, offset)

    @get(
        "/deliveries/{delivery_id:int}",
        operation_id="getPartnerDelivery",
        summary="One of the calling partner's webhook deliveries, with its body (partner)",
        description=(
            "The `status_url` of a webhook receipt. Another insurer's delivery is a 404, as if "
            "it did not exist. The body is shown up to 64 KiB."
        ),
        opt=declares({404: ["delivery_not_found"]}),
    )
    async def get_delivery(
        self,
        webhooks: NamedDependency[WebhookService],
        request: Request[Principal, Any, Any],
        delivery_id: FromPath[InboxId],
    ) -> PartnerDelivery:
        return await webhooks.partner_delivery(provider_of(request.user), delivery_id)

    @get(
        "/quotes",
        operation_id="listPartnerQuoteCalls",
        summary="The calling partner's quote calls and their outcomes, newest first (partner)",
        description=(
            "Each quote request the service sent the key's insurer, with the outcome recorded: "
            "status, reason code and reason (an answer that could not be read, say), attempts "
            "and time taken. Nothing of the seller beyond what the insurer was sent. Filter by "
            "`status`; page with `limit` and `offset`."
        ),
    )
    async def list_quote_calls(
        self,
        quoting: NamedDependency[QuotingService],
        request: Request[Principal, Any, Any],
        status: FromQuery[OutcomeStatus | None] = None,
        limit: FromQuery[Limit] = 50,
        offset: FromQuery[PageOffset] = 0,
    ) -> list[PartnerQuoteCall]:
        provider_id = provider_of(request.user)
        return await quoting.partner_calls(provider_id, status, limit, offset)
