"""Operators' check of the audit trail: are the sellers' hash chains as their writers left them?"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, Parameter

from accelerator.audit.verify import MAX_SELLERS_PER_PAGE, ChainVerifier
from accelerator.auth.guards import requires
from accelerator.infra.params import SellerIdFilter
from schemas import ONE_LINE_PATTERN, AuditVerification

#: A cursor the previous page handed out (``next_after``): a seller id as stored.
AfterQuery = Annotated[str | None, Parameter(min_length=1, max_length=64, pattern=ONE_LINE_PATTERN)]


class AuditAdminController(Controller):
    """The audit trail's checks (admin keys only)."""

    path = "/v1/admin/audit"
    tags = ["admin"]
    guards = [requires()]

    @get(
        "/verify",
        operation_id="verifyAuditChains",
        summary="Verify the sellers' hash chains of events and receipts (admin, paginated)",
        description=(
            "Walks each seller's chain of policy events and chain of decision receipts and names "
            "the first broken link of each broken chain (docs/audit.md#tamper-evidence lists "
            "the `problem` codes). With `seller_id`, that seller's chains; without it, the "
            f"first `limit` (1 to {MAX_SELLERS_PER_PAGE:,}) sellers by id after `after` that "
            "hold a chain: pass the answer's `next_after` as `after` for the next page, until "
            "it is null. `intact` is true when no link is broken."
        ),
    )
    async def verify(
        self,
        chain_verifier: NamedDependency[ChainVerifier],
        seller_id: FromQuery[SellerIdFilter] = None,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=MAX_SELLERS_PER_PAGE)]] = 100,
        after: FromQuery[AfterQuery] = None,
    ) -> AuditVerification:
        if seller_id is not None:
            return await chain_verifier.verify_seller(seller_id)
        return await chain_verifier.verify_page(after=after, limit=limit)
