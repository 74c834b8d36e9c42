"""The coverage page: is the seller covered as the marketplace requires, and its policies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from accelerator.compliance.service import ComplianceService
from accelerator.compliance.standing import days_until
from accelerator.coverage.decision import rule_set_for_incident
from accelerator.coverage.service import CoverageService
from accelerator.coverage.state import EventKind
from accelerator.renewals.service import RenewalService
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import SellerService
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.profile import latest_profile, session_of
from accelerator.web.rendering import page
from accelerator.web.standing import coverage_standing
from schemas import PolicyDocument, PolicyEventView

PAGE_SIZE: Final = 20
PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=10_000)]


def days_to_expiry(policy: PolicyDocument, now: datetime, timezone: str) -> int:
    """Calendar days in the marketplace's time zone until the policy ends (negative once it
    has ended): counted as the compliance status counts them, so the two never disagree."""
    return days_until(policy.terms.expires_at, now, timezone)


def standing(policy: PolicyDocument, now: datetime) -> str:
    """``in_force``, ``starts`` (a term that has not begun), ``ended`` or ``not_in_force``
    (e.g. cancelled)."""
    if policy.in_force_now:
        return "in_force"
    if policy.terms.effective_at > now:
        return "starts"
    if policy.terms.expires_at <= now:
        return "ended"
    return "not_in_force"


def history(policy: PolicyDocument) -> list[PolicyEventView]:
    """Events in the order the registry learned them. Issuing is always recorded first, even
    when other events recorded at the same instant take effect earlier (a verification takes
    effect at once, the cover only from its start)."""
    return sorted(policy.events, key=lambda e: (e.recorded_at, e.kind != EventKind.ISSUED))


class CoverageController(Controller):
    path = "/coverage"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def show(
        self,
        compliance: NamedDependency[ComplianceService],
        sellers: NamedDependency[SellerService],
        coverage: NamedDependency[CoverageService],
        renewals: NamedDependency[RenewalService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
        page_number: PageNumber = 1,
    ) -> Response[Any]:
        seller_id = session_of(request).seller_id
        stored = await latest_profile(sellers, seller_id)
        if stored is None:
            return Redirect("/app/profile/edit?notice=profile_first", status_code=303)
        now = datetime.now(UTC)
        principal = session_of(request).principal
        status = await compliance.status(principal, seller_id, now)
        held = await compliance.held_policies(principal, seller_id)
        found = await coverage.seller_policies(
            principal, seller_id, limit=PAGE_SIZE + 1, offset=(page_number - 1) * PAGE_SIZE
        )
        policies = found[:PAGE_SIZE]
        # Dates and day counts in the marketplace's own time zone: a policy starting 00:01 in
        # Berlin starts on that day, not on the UTC day before.
        version = rule_set_for_incident(rulebook, stored.facts.marketplace, now)
        timezone = version.reference_timezone
        current = coverage_standing(held, status, now=now, timezone=timezone)
        return page(
            request,
            "coverage.html",
            title="Your coverage",
            status=status,
            requirement=status.requirement,
            policies=policies,
            timezone=timezone,
            expiry={p.id: days_to_expiry(p, now, timezone) for p in policies},
            standing={p.id: standing(p, now) for p in policies},
            history={p.id: history(p) for p in policies},
            current=current,
            renewals=await renewals.ready(principal, seller_id, now),
            scheduled_ends={end.policy_id: end for end in current.scheduled},
            stopped={end.policy_id: end for end in current.stopped},
            small_claims=version.money(version.small_claims.threshold),
            page_number=page_number,
            has_more=len(found) > PAGE_SIZE,
        )
