"""The insurers page: each configured insurer's health, breaker and quote funnel, and the
operator switch that takes it out of (and back into) every fan-out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from accelerator.admin.funnel import BY_REASON, funnels_since
from accelerator.admin.switches import switch_off, switch_on, switched_off
from accelerator.infra.database import Database
from accelerator.insurers.directory import provider_directory
from accelerator.insurers.partners import Partner
from accelerator.web.admin.ids import CONTROL, checked_id
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.rendering import page
from accelerator.web.session import current_session
from schemas import OutcomeStatus

#: The periods the funnel can cover, in days, and how the page names them.
PERIODS: Final = {1: "the last 24 hours", 7: "the last 7 days", 30: "the last 30 days"}
REASON_LIMIT: Final = 500


class InsurersController(Controller):
    path = "/insurers"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def insurers(
        self,
        db: NamedDependency[Database],
        partners: NamedDependency[Mapping[str, Partner]],
        request: Request[Any, Any, Any],
    ) -> Response[str]:
        return await self._page(db, partners, request)

    async def _page(
        self,
        db: Database,
        partners: Mapping[str, Partner],
        request: Request[Any, Any, Any],
        *,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
    ) -> Response[str]:
        # As with ?page= (paging.py): a period edited by hand to nonsense shows the default
        # period, which the page names, rather than an error page.
        try:
            days = int(request.query_params.get("days", "7"))
        except ValueError:
            days = 7
        if days not in PERIODS:
            days = 7
        since = datetime.now(UTC) - timedelta(days=days)
        return page(
            request,
            "admin/insurers.html",
            status_code=status_code,
            title="Insurers",
            insurers=provider_directory(partners),
            funnels=await funnels_since(db, since),
            switches=await switched_off(db),
            periods=PERIODS,
            days=days,
            since=since,
            statuses=OutcomeStatus,
            by_reason=BY_REASON,
            errors=errors or {},
        )

    @post("/{provider_id:str}/switch-off", status_code=303)
    async def off(
        self,
        db: NamedDependency[Database],
        partners: NamedDependency[Mapping[str, Partner]],
        request: Request[Any, Any, Any],
        provider_id: FromPath[str],
    ) -> Response[Any]:
        session = current_session(request)
        assert session is not None  # the guard let only a signed-in operator through
        if provider_id not in partners:
            raise NotFoundException()
        form = await request.form()
        reason = " ".join(str(form.get("reason", "")).split())
        if not reason or len(reason) > REASON_LIMIT or CONTROL.search(reason):
            message = (
                f"Say why in up to {REASON_LIMIT} characters of plain text: quote requests show it."
            )
            return await self._page(
                db, partners, request, status_code=422, errors={provider_id: message}
            )
        await switch_off(db, session.principal, provider_id, reason)
        return Redirect("/admin/insurers?notice=switched_off", status_code=303)

    @post("/{provider_id:str}/switch-on", status_code=303)
    async def on(
        self,
        db: NamedDependency[Database],
        request: Request[Any, Any, Any],
        provider_id: FromPath[str],
    ) -> Redirect:
        session = current_session(request)
        assert session is not None
        if not await switch_on(db, session.principal, checked_id(provider_id)):
            raise NotFoundException()
        return Redirect("/admin/insurers?notice=switched_on", status_code=303)
