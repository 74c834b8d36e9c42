"""``GET /v1/sellers/{seller_id}/compliance``: must the seller be insured, by when, and is it?"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.compliance.service import ComplianceService
from accelerator.infra.openapi import declares
from accelerator.infra.params import SellerId
from schemas import ComplianceStatus


# Under the seller's path and tag (it is the seller's status), served by the compliance domain
# so that sellers never imports compliance, which reads the sellers' profiles.
class ComplianceController(Controller):
    path = "/v1/sellers/{seller_id:str}/compliance"
    tags = ["sellers"]
    guards = [requires(Role.SELLER)]

    @get(
        operation_id="getSellerCompliance",
        summary="Must the seller be insured, by when, and is it?",
        opt=declares({404: ["seller_profile_not_found"]}),
    )
    async def get_compliance(
        self,
        compliance: NamedDependency[ComplianceService],
        request: Request[Principal, Any, Any],
        seller_id: FromPath[SellerId],
    ) -> ComplianceStatus:
        return await compliance.status(request.user, seller_id)
