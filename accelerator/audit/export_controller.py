"""``GET /v1/sellers/{seller_id}/audit-export``: a seller's audit trail as JSON lines."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import Stream

from accelerator.audit.export import NDJSON, AuditExportService
from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.infra.openapi import declares
from accelerator.infra.params import SellerId
from schemas import AuditRecord

_LINES = (
    "JSON lines (`application/x-ndjson`), one `AuditRecord` per line: every policy event of "
    "the seller in chain order (`record: policy_event`), then every decision receipt in chain "
    "order (`decision_receipt`), then every mark of an affected decision (`decision_effect`). "
    "For a chained line, `row_hash` is the SHA-256 (hex) of `prev_hash`, a line feed and "
    "`content` (UTF-8); the first line of each chain has 64 zeros as `prev_hash` and each "
    "next line's `prev_hash` is its predecessor's `row_hash` (docs/retention.md). A seller with "
    "no trail gets an empty body."
)


class AuditExportController(Controller):
    path = "/v1/sellers/{seller_id:str}/audit-export"
    tags = ["audit"]
    guards = [requires(Role.SELLER, Role.CLAIMS)]

    # The guard lets every role in; the service refuses a seller key another seller's trail.
    @get(
        operation_id="exportSellerAuditTrail",
        summary="The seller's audit trail, for checking by hand (streamed JSON lines)",
        description=(
            "Admins and the claims role export any seller's trail, a seller key its own. "
            "Read and sent a page at a time: the body may be long."
        ),
        media_type=NDJSON,
        responses={
            200: ResponseSpec(
                data_container=AuditRecord,
                media_type=NDJSON,
                description=_LINES,
                generate_examples=False,
            )
        },
        opt=declares({403: ["forbidden"]}),
    )
    async def export(
        self,
        audit_export: NamedDependency[AuditExportService],
        request: Request[Principal, Any, Any],
        seller_id: FromPath[SellerId],
    ) -> Stream:
        return Stream(audit_export.export(request.user, seller_id), media_type=NDJSON)
