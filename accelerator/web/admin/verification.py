"""The certificate verification queue: each submitted policy's certificate beside what the
rules find in it, verified or rejected with a reason."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from accelerator.admin.actions import record_action
from accelerator.admin.verification import (
    POLICIES_PER_PAGE,
    awaiting_verification,
    is_waiting,
)
from accelerator.coverage.admin import PolicyAdminService
from accelerator.coverage.service import CoverageService
from accelerator.errors import InvalidInput
from accelerator.infra.database import Database
from accelerator.web.admin.ids import CONTROL, checked_id
from accelerator.web.admin.paging import page_number
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.rendering import page
from accelerator.web.session import current_session

REASON_LIMIT = 1000


class VerificationController(Controller):
    path = "/verification"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def queue(
        self,
        db: NamedDependency[Database],
        policy_admin: NamedDependency[PolicyAdminService],
        request: Request[Any, Any, Any],
    ) -> Response[str]:
        return await self._page(db, policy_admin, request)

    async def _page(
        self,
        db: Database,
        policy_admin: PolicyAdminService,
        request: Request[Any, Any, Any],
        *,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
    ) -> Response[str]:
        number = page_number(request)
        ids, total = await awaiting_verification(db, number)
        # The operators' view: the document with its gaps, the insurer linked, and whether it
        # shares its number with another policy (then it also waits for a link decision).
        views = [await policy_admin.view(policy_id) for policy_id in ids]
        return page(
            request,
            "admin/verification.html",
            status_code=status_code,
            title="Certificates to verify",
            views=views,
            total=total,
            page_number=number,
            pages=max(1, -(-total // POLICIES_PER_PAGE)),
            errors=errors or {},
        )

    @post("/{policy_id:str}/{decision:str}", status_code=303)
    async def decide(
        self,
        db: NamedDependency[Database],
        coverage: NamedDependency[CoverageService],
        policy_admin: NamedDependency[PolicyAdminService],
        request: Request[Any, Any, Any],
        policy_id: FromPath[str],
        decision: FromPath[str],
    ) -> Response[Any]:
        session = current_session(request)
        assert session is not None
        if decision not in ("verify", "reject"):
            raise NotFoundException()
        if not await is_waiting(db, checked_id(policy_id)):
            # Decided already (a second tab, a resubmitted form) or never submitted.
            return Redirect("/admin/verification?notice=policy_decided", status_code=303)
        form = await request.form()
        reason = str(form.get("reason", "")).strip()
        if len(reason) > REASON_LIMIT or CONTROL.search(reason):
            message = f"Keep the reason to {REASON_LIMIT} characters of plain text."
            return await self._page(
                db, policy_admin, request, status_code=422, errors={policy_id: message}
            )
        verified = decision == "verify"
        try:
            document = await coverage.review(
                session.principal, policy_id, verified=verified, reason=reason
            )
        except InvalidInput:
            message = "Say why the policy is rejected: the seller reads it."
            return await self._page(
                db, policy_admin, request, status_code=422, errors={policy_id: message}
            )
        await record_action(
            db,
            session.principal,
            "policy.verified" if verified else "policy.rejected",
            f"policy {document.terms.policy_number} of seller {document.seller_id} ({policy_id})",
            reason,
        )
        notice = "policy_verified" if verified else "policy_rejected"
        return Redirect(f"/admin/verification?notice={notice}", status_code=303)
