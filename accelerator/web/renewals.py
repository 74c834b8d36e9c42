"""The renewal page: a policy's renewal offers beside its current terms, each bought in one step
through the quote pages' confirmation (``web.quotes``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from accelerator.quoting.service import QuotingService
from accelerator.renewals.service import RenewalService
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.zones import local_date
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.profile import session_of
from accelerator.web.quotes import live_context
from accelerator.web.rendering import page


class RenewalsController(Controller):
    path = "/renewals"
    guards = [signed_in, csrf_protected]

    @get("/{policy_id:str}")
    async def show(
        self,
        renewals: NamedDependency[RenewalService],
        quoting: NamedDependency[QuotingService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
        policy_id: FromPath[str],
    ) -> Response[str]:
        principal = session_of(request).principal
        # Not found (a page saying when renewal opens) before it opens, or for another's policy.
        policy, stored = await renewals.stored_renewal(principal, policy_id)
        view = quoting.view(stored)
        context = live_context(stored, view, rulebook, policy.terms)
        return page(
            request,
            "renewal.html",
            title="Renew your policy",
            policy=policy,
            days_left=(
                local_date(policy.terms.expires_at, context["timezone"])
                - local_date(datetime.now(UTC), context["timezone"])
            ).days,
            **context,
        )
