"""Quote request endpoints and the provider directory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.infra.openapi import declares
from accelerator.infra.params import PageOffset, RequestId
from accelerator.insurers.directory import provider_directory
from accelerator.insurers.partners import Partner
from accelerator.quoting.service import QuotingService
from schemas import (
    InsurerAttempt,
    ProviderInfo,
    QuoteRequestBody,
    QuoteRequestStatus,
    QuoteRequestSummary,
    QuoteRequestView,
)

# ?wait=true answers a little after the deadline at the latest: the fan-out stops at it.
WAIT_MARGIN_SECONDS = 1.0


class QuoteRequestController(Controller):
    path = "/v1/quote-requests"
    tags = ["quoting"]
    guards = [requires(Role.SELLER)]

    @post(
        operation_id="createQuoteRequest",
        summary="Ask every eligible insurer for quotes",
        description=(
            "Persists the request and asks every eligible insurer at once. Answers 202 at once "
            "(poll the `Location`), or with `?wait=true` when every insurer has answered or the "
            "deadline passed (200)."
        ),
        status_code=HTTP_202_ACCEPTED,
        responses={
            200: ResponseSpec(
                QuoteRequestView, description="Every insurer answered or the deadline passed"
            )
        },
        opt=declares({409: ["profile_required"]}),
    )
    async def create(
        self,
        quoting: NamedDependency[QuotingService],
        request: Request[Principal, Any, Any],
        data: JSONBody[QuoteRequestBody],
        wait: FromQuery[bool] = False,
    ) -> Response[QuoteRequestView]:
        quote, deadline = await quoting.create(request.user, data, waited_for=wait)
        # Usually the fan-out answers with what it just stored (its offers assessed as they
        # landed), and nothing is read back.
        written = (
            await quoting.runner.wait(quote.request_id, deadline + WAIT_MARGIN_SECONDS)
            if wait
            else None
        )
        view = (
            quoting.view(written.stored, assessed=written.assessed)
            if written is not None
            else quoting.view(await quoting.load(request.user, quote.request_id))
        )
        collecting = view.status == QuoteRequestStatus.COLLECTING
        status = HTTP_202_ACCEPTED if collecting else HTTP_200_OK
        return Response(
            view, status_code=status, headers={"Location": f"{self.path}/{quote.request_id}"}
        )

    @get(
        operation_id="listQuoteRequests",
        summary="Quote requests, newest first (paginated)",
        description=(
            "A seller key lists its own seller's requests; an admin key lists every seller's, or "
            "one seller's with `seller_id`. Page with `limit` and `offset`."
        ),
    )
    async def list_requests(
        self,
        quoting: NamedDependency[QuotingService],
        request: Request[Principal, Any, Any],
        seller_id: FromQuery[
            Annotated[
                str | None, Parameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
            ]
        ] = None,
        status: FromQuery[QuoteRequestStatus | None] = None,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=100)]] = 20,
        # Bounded: a huge number failed in the database driver (a 500 the schemathesis drill found).
        offset: FromQuery[PageOffset] = 0,
    ) -> list[QuoteRequestSummary]:
        return await quoting.summaries(request.user, seller_id, status, limit, offset)

    @get(
        "/{request_id:str}",
        operation_id="getQuoteRequest",
        summary="Status, every insurer's outcome, and the ranked offers",
        opt=declares({404: ["quote_request_not_found"]}),
    )
    async def read(
        self,
        quoting: NamedDependency[QuotingService],
        request: Request[Principal, Any, Any],
        request_id: FromPath[RequestId],
    ) -> QuoteRequestView:
        return quoting.view(await quoting.load(request.user, request_id))

    @get(
        "/{request_id:str}/attempts",
        operation_id="getQuoteRequestAttempts",
        summary="Captured HTTP exchanges with each insurer (admin)",
        guards=[requires()],
        opt=declares({404: ["quote_request_not_found"]}),
    )
    async def attempts(
        self,
        quoting: NamedDependency[QuotingService],
        request: Request[Principal, Any, Any],
        request_id: FromPath[RequestId],
    ) -> list[InsurerAttempt]:
        return await quoting.attempts(request.user, request_id)


class ProviderController(Controller):
    path = "/v1/providers"
    tags = ["providers"]
    guards = [requires(Role.SELLER, Role.CLAIMS)]

    @get(operation_id="listProviders", summary="Insurer adapters, appetite, breaker state")
    async def list_providers(
        self, partners: NamedDependency[Mapping[str, Partner]]
    ) -> list[ProviderInfo]:
        return provider_directory(partners)
