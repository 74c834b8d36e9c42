"""``GET /v1/policies/{policy_id}/renewal``: the quote request renewing a policy."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.infra.openapi import declares
from accelerator.infra.params import PolicyId
from accelerator.renewals.service import RenewalService
from schemas import QuoteRequestView


class PolicyRenewalController(Controller):
    path = "/v1/policies/{policy_id:str}/renewal"
    tags = ["coverage"]
    guards = [requires(Role.SELLER, Role.CLAIMS)]

    @get(
        operation_id="getPolicyRenewal",
        summary="The policy's renewal: the quote request opened 60 days before it ends",
        description=(
            "Sixty days before a policy ends (calendar days in the marketplace's time zone), the "
            "service opens a quote request for its seller, sent to every configured insurer "
            "(the policy's own included), for cover starting when the policy's ends. This is "
            "that request with its outcomes and ranked offers, as `GET /v1/quote-requests/{id}` "
            "shows it (`renews_policy_id` names the policy); bind an offer with "
            "`POST /v1/offers/{offer_id}/bind`. 404 `renewal_not_found` until it opens, saying "
            "when it will. A seller key reads only its own seller's policies."
        ),
        opt=declares(
            {404: ["policy_not_found", "renewal_not_found"]}, example="QuoteRequestView.renewal"
        ),
    )
    async def read(
        self,
        renewals: NamedDependency[RenewalService],
        request: Request[Principal, Any, Any],
        policy_id: FromPath[PolicyId],
    ) -> QuoteRequestView:
        return await renewals.renewal(request.user, policy_id)


__all__ = ["PolicyRenewalController"]
