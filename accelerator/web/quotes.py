"""Quote pages: ask every insurer, watch the answers arrive, choose an offer and buy it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from accelerator.auth.principal import Principal
from accelerator.binding.service import BindingService
from accelerator.compliance.service import ComplianceService
from accelerator.coverage.decision import rule_set_for_incident
from accelerator.coverage.service import CoverageService
from accelerator.errors import DomainError
from accelerator.infra.errors import not_found
from accelerator.quoting.service import QuotingService, StoredRequest
from accelerator.renewals.service import RenewalService
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import SellerService
from accelerator.web.errors import as_problem
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.notices import notices_for, renewal_page
from accelerator.web.profile import latest_profile, session_of
from accelerator.web.rendering import page
from schemas import (
    BindBody,
    OfferStatus,
    OutcomeStatus,
    PolicyTerms,
    QuoteRequestBody,
    QuoteRequestStatus,
    QuoteRequestView,
    RankedOffer,
)

PAGE_SIZE: Final = 10
# While a request is in one of these states its page keeps refreshing itself.
LIVE_STATES: Final = frozenset(
    {QuoteRequestStatus.COLLECTING, QuoteRequestStatus.BINDING, QuoteRequestStatus.BIND_PENDING}
)
OPEN_STATES: Final = frozenset({QuoteRequestStatus.COLLECTING, QuoteRequestStatus.COMPLETE})
# How long after a request the page keeps waiting for insurers that answer by callback.
CALLBACK_WAIT: Final = timedelta(minutes=5)

PageNumber = Annotated[int, QueryParameter(name="page", ge=1, le=10_000)]


def is_live(stored: StoredRequest, now: datetime) -> bool:
    """Whether more can still arrive without the seller doing anything."""
    status = stored.row.status
    if status in LIVE_STATES:
        return True
    waiting = any(outcome.status == OutcomeStatus.PENDING for outcome in stored.outcomes)
    return (
        status == QuoteRequestStatus.COMPLETE
        and waiting
        and now < stored.row.created_at + CALLBACK_WAIT
    )


def can_buy(status: str, offer: RankedOffer) -> bool:
    return status in OPEN_STATES and offer.status == OfferStatus.OPEN and offer.offer.bindable


async def _load(
    quoting: QuotingService,
    principal: Principal,
    request_id: str,
) -> tuple[StoredRequest, QuoteRequestView]:
    stored = await quoting.load(principal, request_id)
    return stored, quoting.view(stored)


def ranks_below_why(view: QuoteRequestView) -> dict[str, bool]:
    """Offer id -> True for each non-compliant offer whose score beats a compliant offer's:
    it ranks below that one only because it does not meet the requirements, and says so."""
    compliant = [o.score.total for o in view.offers if o.compliance.compliant]
    lowest = min(compliant, default=None)
    return {
        o.id: lowest is not None and o.score.total > lowest
        for o in view.offers
        if not o.compliance.compliant
    }


def _marketplace(rulebook: RuleBook, stored: StoredRequest, now: datetime) -> dict[str, Any]:
    """The seller's marketplace time zone and small-claim threshold (for dates and the
    sentence on what staying uninsured means)."""
    version = rule_set_for_incident(rulebook, stored.request.seller.marketplace, now)
    return {
        "timezone": version.reference_timezone,
        "small_claims": version.money(version.small_claims.threshold),
    }


async def current_terms(
    coverage: CoverageService, principal: Principal, stored: StoredRequest
) -> PolicyTerms | None:
    """For a renewal, the terms of the policy it renews (shown beside its offers)."""
    policy_id = stored.row.renews_policy_id
    if policy_id is None:
        return None
    return (await coverage.document(principal, policy_id)).terms


def live_context(
    stored: StoredRequest,
    view: QuoteRequestView,
    rulebook: RuleBook,
    current: PolicyTerms | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    status = stored.row.status
    offers_by_insurer: dict[str, int] = {}
    for ranked in view.offers:
        offers_by_insurer[ranked.offer.provider_id] = (
            offers_by_insurer.get(ranked.offer.provider_id, 0) + 1
        )
    bound_offer = next((o for o in view.offers if o.id == stored.row.bound_offer_id), None)
    failure = view.bind_failure
    failed_offer = next((o for o in view.offers if failure and o.id == failure.offer_id), None)
    return {
        "view": view,
        "status": status,
        "live": is_live(stored, now),
        "offers_by_insurer": offers_by_insurer,
        "bound_offer": bound_offer,
        "failed_offer": failed_offer,
        "bind_reference": stored.row.bind_reference,
        "buyable": {o.id for o in view.offers if can_buy(status, o)},
        "seller_name": stored.request.seller.legal_name,
        "compliant": [o for o in view.offers if o.compliance.compliant],
        "others": [o for o in view.offers if not o.compliance.compliant],
        "outranks": ranks_below_why(view),
        "current": current,
        **_marketplace(rulebook, stored, now),
    }


class QuotesController(Controller):
    path = "/quotes"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def index(
        self,
        quoting: NamedDependency[QuotingService],
        sellers: NamedDependency[SellerService],
        compliance: NamedDependency[ComplianceService],
        renewals: NamedDependency[RenewalService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
        page_number: PageNumber = 1,
    ) -> Response[str]:
        session = session_of(request)
        stored = await latest_profile(sellers, session.seller_id)
        # Times in the seller's marketplace time zone; before a profile, in UTC.
        timezone = rulebook.timezone(stored.facts.marketplace) if stored else None
        found = await quoting.summaries(
            session.principal,
            session.seller_id,
            None,
            limit=PAGE_SIZE + 1,
            offset=(page_number - 1) * PAGE_SIZE,
        )
        return page(
            request,
            "quotes.html",
            title="Your quotes",
            timezone=timezone,
            notices=await notices_for(
                compliance,
                renewals,
                rulebook,
                session.principal,
                session.seller_id,
                stored.facts.marketplace,
                datetime.now(UTC),
            )
            if stored
            else (),
            requests=found[:PAGE_SIZE],
            page_number=page_number,
            has_more=len(found) > PAGE_SIZE,
        )

    @post("/", status_code=303)
    async def start(
        self, quoting: NamedDependency[QuotingService], request: Request[Any, Any, Any]
    ) -> Redirect:
        session = session_of(request)
        try:
            quote, _ = await quoting.create(
                session.principal, QuoteRequestBody(seller_id=session.seller_id)
            )
        except DomainError as error:
            if as_problem(error).code == "profile_required":
                return Redirect("/app/profile/edit?notice=profile_first", status_code=303)
            raise
        return Redirect(f"/app/quotes/{quote.request_id}", status_code=303)

    @get("/{request_id:str}")
    async def show(
        self,
        quoting: NamedDependency[QuotingService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
        request_id: FromPath[str],
    ) -> Response[Any]:
        principal = session_of(request).principal
        stored, view = await _load(quoting, principal, request_id)
        if stored.row.renews_policy_id is not None:
            # A renewal has its own page, beside the policy it renews.
            return Redirect(renewal_page(stored.row.renews_policy_id), status_code=303)
        return page(
            request,
            "quote_request.html",
            title="Your quotes",
            **live_context(stored, view, rulebook),
        )

    @get("/{request_id:str}/live")
    async def live(
        self,
        quoting: NamedDependency[QuotingService],
        coverage: NamedDependency[CoverageService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
        request_id: FromPath[str],
    ) -> Response[str]:
        """The changing part of the quote page, fetched again and again while it is live."""
        principal = session_of(request).principal
        stored, view = await _load(quoting, principal, request_id)
        current = await current_terms(coverage, principal, stored)
        return page(request, "_quote_live.html", **live_context(stored, view, rulebook, current))

    @get("/{request_id:str}/offers/{offer_id:str}")
    async def confirm(
        self,
        quoting: NamedDependency[QuotingService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
        request_id: FromPath[str],
        offer_id: FromPath[str],
    ) -> Response[str]:
        principal = session_of(request).principal
        stored, view = await _load(quoting, principal, request_id)
        return self._confirmation(request, rulebook, stored, _offer(view, offer_id))

    def _confirmation(
        self,
        request: Request[Any, Any, Any],
        rulebook: RuleBook,
        stored: StoredRequest,
        offer: RankedOffer,
        *,
        error: str | None = None,
        acknowledge_error: str | None = None,
        status_code: int = 200,
    ) -> Response[str]:
        return page(
            request,
            "confirm.html",
            status_code=status_code,
            title="Confirm your purchase",
            stored=stored,
            ranked=offer,
            offer=offer.offer,
            buyable=can_buy(stored.row.status, offer),
            status=stored.row.status,
            # One key per confirmation page: a double click or a resubmit buys once.
            idempotency_key=str(uuid.uuid4()),
            error=error,
            acknowledge_error=acknowledge_error,
            **_marketplace(rulebook, stored, datetime.now(UTC)),
        )

    @post("/{request_id:str}/offers/{offer_id:str}", status_code=303)
    async def buy(
        self,
        quoting: NamedDependency[QuotingService],
        binding: NamedDependency[BindingService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
        request_id: FromPath[str],
        offer_id: FromPath[str],
    ) -> Response[Any]:
        principal = session_of(request).principal
        stored, view = await _load(quoting, principal, request_id)
        offer = _offer(view, offer_id)
        form = await request.form()
        key = str(form.get("idempotency_key", ""))
        if not 1 <= len(key) <= 200:
            key = str(uuid.uuid4())
        try:
            outcome = await binding.bind(
                principal,
                offer_id,
                key,
                BindBody(acknowledge_gaps=form.get("acknowledge_gaps") == "yes"),
            )
        except DomainError as error:
            problem = as_problem(error)
            if problem.code == "gaps_not_acknowledged":
                return self._confirmation(
                    request,
                    rulebook,
                    stored,
                    offer,
                    acknowledge_error="Tick this box to buy a policy that falls short of the "
                    "marketplace's requirements, or go back and choose another offer.",
                    status_code=422,
                )
            stored, view = await _load(quoting, principal, request_id)
            return self._confirmation(
                request,
                rulebook,
                stored,
                _offer(view, offer_id),
                error=f"{problem.title}. {problem.detail or ''}".strip(),
                status_code=problem.status,
            )
        if outcome.body.policy is not None:
            return Redirect(
                f"/app/coverage?notice=bound#policy-{outcome.body.policy.id}", status_code=303
            )
        return Redirect(f"/app/quotes/{request_id}?notice=bind_pending", status_code=303)


def _offer(view: QuoteRequestView, offer_id: str) -> RankedOffer:
    found = next((o for o in view.offers if o.id == offer_id), None)
    if found is None:
        raise not_found("offer", f"No offer {offer_id!r} in this quote request.")
    return found
