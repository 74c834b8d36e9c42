"""Seller endpoints: the risk profile (PUT/GET). The seller's compliance status is the compliance
domain's (``accelerator.compliance.controller``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.infra.openapi import declares
from accelerator.infra.params import SellerId
from accelerator.sellers.service import SellerService, StoredProfile
from schemas import SellerFacts, SellerProfileDocument


def _document(stored: StoredProfile) -> SellerProfileDocument:
    return SellerProfileDocument(
        seller_id=stored.seller_id,
        version=stored.version,
        created_at=stored.created_at,
        profile=stored.profile,
    )


class SellerController(Controller):
    path = "/v1/sellers/{seller_id:str}"
    tags = ["sellers"]
    guards = [requires(Role.SELLER)]

    @put(
        "/profile",
        operation_id="putSellerProfile",
        summary="Describe the business; get its risk profile",
        description=(
            "Validates the seller's facts, computes the risk profile (score, tier, each factor's "
            "contribution, the insurance requirement and recommended cover) and stores it as a "
            "new version. Creates the seller if new."
        ),
        status_code=HTTP_200_OK,
    )
    async def put_profile(
        self,
        sellers: NamedDependency[SellerService],
        request: Request[Principal, Any, Any],
        seller_id: FromPath[SellerId],
        data: JSONBody[SellerFacts],
    ) -> SellerProfileDocument:
        return _document(await sellers.put_profile(request.user, seller_id, data))

    @get(
        "/profile",
        operation_id="getSellerProfile",
        summary="The latest (or a given) profile version",
        opt=declares({404: ["seller_profile_not_found"]}),
    )
    async def get_profile(
        self,
        sellers: NamedDependency[SellerService],
        request: Request[Principal, Any, Any],
        seller_id: FromPath[SellerId],
        # Bounded: a huge number failed in the database driver (a 500 the schemathesis drill found).
        version: FromQuery[Annotated[int | None, Parameter(ge=1, le=2**31 - 1)]] = None,
    ) -> SellerProfileDocument:
        return _document(await sellers.read_profile(request.user, seller_id, version))
