"""``POST /v1/offers/{offer_id}/bind``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.binding.service import BindingService
from accelerator.infra.openapi import declares
from accelerator.infra.params import OfferId
from schemas import BindBody, BindResponse

IdempotencyKey = Annotated[
    str, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=200)
]


class BindController(Controller):
    path = "/v1/offers/{offer_id:str}/bind"
    tags = ["binding"]
    guards = [requires(Role.SELLER)]

    @post(
        operation_id="bindOffer",
        summary="Buy an offer (exactly one policy per quote request)",
        description=(
            "201 with the policy when the insurer binds at once; 202 `bind_pending` when it "
            "confirms later by webhook. The same Idempotency-Key and body always get the same "
            "answer; the same key with another body is refused (422). 409 when the offer cannot "
            "be bought now: `offer_expired`, `offer_indicative`, `cover_start_passed` (the cover "
            "would already have started, by the date in the marketplace's time zone), "
            "`request_already_bound`, `bind_refused` (with the insurer's reason, also kept on "
            "the quote request as `bind_failure`), `bind_in_progress`."
        ),
        responses={
            202: ResponseSpec(BindResponse, description="bind_pending: the insurer confirms later")
        },
        opt=declares(
            {
                404: ["offer_not_found"],
                409: [
                    "request_already_bound",
                    "bind_in_progress",
                    "offer_expired",
                    "offer_indicative",
                    "cover_start_passed",
                    "insurer_unavailable",
                    "bind_refused",
                ],
                422: ["idempotency_key_reused", "gaps_not_acknowledged"],
                502: ["insurer_bind_failed"],
            }
        ),
    )
    async def bind(
        self,
        binding: NamedDependency[BindingService],
        request: Request[Principal, Any, Any],
        offer_id: FromPath[OfferId],
        idempotency_key: IdempotencyKey,
        data: JSONBody[BindBody | None] = None,
    ) -> Response[BindResponse]:
        outcome = await binding.bind(request.user, offer_id, idempotency_key, data or BindBody())
        return Response(outcome.body, status_code=outcome.status_code)
