"""Quote requests: build the canonical request from the seller's profile, run it, show it."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec

from accelerator.auth.principal import Principal, Role, ensure_acts_for
from accelerator.errors import InvalidInput, NotFound
from accelerator.infra.database import Database
from accelerator.quoting import repository
from accelerator.quoting.assessment import assess_offer
from accelerator.quoting.cover import (
    currency_errors,
    default_cover,
    required_endorsement,
    start_date_error,
)
from accelerator.quoting.repository import StoredRequest as StoredRequest  # the pages import it
from accelerator.quoting.runner import QuoteRunner, record_request
from accelerator.quoting.views import request_view
from accelerator.ranking.score import RankingStrategy
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import SellerService, StoredProfile
from schemas import (
    ComplianceResult,
    DesiredCover,
    InsurerAttempt,
    OutcomeStatus,
    PartnerQuoteCall,
    QuoteRequest,
    QuoteRequestBody,
    QuoteRequestStatus,
    QuoteRequestSummary,
    QuoteRequestView,
    SellerSnapshot,
    reading_stored,
)


def snapshot(stored: StoredProfile) -> SellerSnapshot:
    facts, profile = stored.facts, stored.profile
    return SellerSnapshot(
        seller_id=stored.seller_id,
        legal_name=facts.legal_name,
        marketplace=facts.marketplace,
        categories=list(facts.categories),
        annual_sales=profile.annual_sales_estimate,
        business_model=facts.business_model,
        risk_tier=profile.tier,
        risk_score=profile.score,
        years_in_business=facts.years_in_business,
        manufacturing_countries=list(facts.manufacturing_countries),
    )


@dataclass(frozen=True)
class QuotingService:
    """Quote requests for the callers that may see them: a seller key acts for its own seller
    only; admins for every seller."""

    db: Database
    sellers: SellerService
    runner: QuoteRunner
    rulebook: RuleBook
    ranking: RankingStrategy
    default_deadline_seconds: float
    max_deadline_seconds: float
    # Now: the day cover may start from and the request's deadline follow it (tests set it).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def deadline_for(self, asked: float | None) -> float:
        """The request's own deadline, never above the configured maximum."""
        return min(asked or self.default_deadline_seconds, self.max_deadline_seconds)

    async def create(
        self, principal: Principal, body: QuoteRequestBody, *, waited_for: bool = False
    ) -> tuple[QuoteRequest, float]:
        """Persist the request (and an ``awaiting`` row per insurer), then start the fan-out;
        ``waited_for``: the caller will wait for its answer (:meth:`view` of what
        ``runner.wait`` gives), whose offers are then assessed as they land.

        Cover that would start before today in the seller's marketplace is refused
        (``cover.effective_date``), as are amounts in another currency than the marketplace's
        (``currency_mismatch``), and nothing is stored.
        """
        ensure_acts_for(principal, body.seller_id)
        stored = await self.sellers.require_profile(body.seller_id)
        now = self.clock()
        today = self.rulebook.local_date(stored.facts.marketplace, now)
        cover = body.cover or default_cover(stored, today)
        currency = self.rulebook.currency_of(stored.facts.marketplace)
        errors = currency_errors(cover, currency)
        if (error := start_date_error(cover.effective_date, today)) is not None:
            errors.append(error)
        if errors:
            raise InvalidInput(errors)
        request = self.request_for(stored, cover)
        deadline = self.deadline_for(body.deadline_seconds)
        deadline_at = now + timedelta(seconds=deadline)
        # Stamped by the wall clock, not ``clock``: when the request was really made.
        created_at = datetime.now(UTC)
        # The insurers' switches come back with the request's write: one round trip for both.
        switched_off = await record_request(
            self.db, request, self.runner.partners, deadline_at, created_at=created_at
        )
        self.runner.start(
            request,
            deadline,
            created_at=created_at,
            deadline_at=deadline_at,
            switched_off=switched_off,
            assess=functools.partial(assess_offer, self.rulebook, request) if waited_for else None,
        )
        return request, deadline

    def request_for(self, stored: StoredProfile, cover: DesiredCover) -> QuoteRequest:
        """A new canonical request of the seller ``stored`` for ``cover``, with the endorsement
        the marketplace requires of cover starting then."""
        return QuoteRequest(
            request_id=str(uuid.uuid4()),
            seller=snapshot(stored),
            cover=cover,
            additional_insured=required_endorsement(
                self.rulebook, stored.facts.marketplace, cover.effective_date
            ),
        )

    def renewal_request(self, stored: StoredProfile, starts: date, now: datetime) -> QuoteRequest:
        """The request renewing a policy of the seller ``stored``: the seller's recommended
        cover as any request gets by default, starting on ``starts`` (the day the policy ends)."""
        today = self.rulebook.local_date(stored.facts.marketplace, now)
        cover = msgspec.structs.replace(default_cover(stored, today), effective_date=starts)
        return self.request_for(stored, cover)

    def start(self, request: QuoteRequest) -> None:
        """Fan out a request already stored (a renewal), with the default deadline."""
        self.runner.start(request, self.deadline_for(None))

    async def renewal_of(self, policy_id: str) -> StoredRequest | None:
        """The request renewing ``policy_id``, or None; the caller has checked who may see the
        policy (the claims role reads it too)."""
        request_id = await repository.renewal_request_id(self.db, policy_id)
        if request_id is None:
            return None
        with reading_stored():
            return await repository.read_request(self.db, request_id)

    async def open_renewals(self, principal: Principal, seller_id: str) -> list[StoredRequest]:
        """The seller's renewals not bought yet, oldest first."""
        ensure_acts_for(principal, seller_id)
        found = []
        for _, request_id in await repository.seller_renewals(self.db, seller_id):
            with reading_stored():
                stored = await repository.read_request(self.db, request_id)
            if stored is not None:
                found.append(stored)
        return found

    async def load(self, principal: Principal, request_id: str) -> StoredRequest:
        """The request with every outcome and offer; not found for another seller's (no leak).
        Read as it was stored: a bound added since must not make an older request unreadable."""
        with reading_stored():
            stored = await repository.read_request(self.db, request_id)
        if stored is None or not principal.may_act_for_seller(stored.row.seller_id):
            raise NotFound("quote_request", f"No quote request {request_id!r}.")
        return stored

    def view(
        self,
        stored: StoredRequest,
        now: datetime | None = None,
        assessed: Mapping[str, ComplianceResult] | None = None,
    ) -> QuoteRequestView:
        """The request as the API shows it: its offers assessed against the marketplace's rules
        (``assessed``: those the fan-out assessed already, by offer id) and ranked, as of
        ``now``."""
        return request_view(stored, self.rulebook, self.ranking, now or self.clock(), assessed)

    async def summaries(
        self,
        principal: Principal,
        seller_id: str | None,
        status: QuoteRequestStatus | None,
        limit: int,
        offset: int,
    ) -> list[QuoteRequestSummary]:
        """A page of requests, newest first: a seller key sees its own seller's only."""
        if principal.role is Role.SELLER:
            seller_id = seller_id or principal.seller_id
        if seller_id is not None:
            ensure_acts_for(principal, seller_id)
        return await repository.list_summaries(
            self.db, seller_id=seller_id, status=status, limit=limit, offset=offset
        )

    async def partner_calls(
        self, provider_id: str, status: OutcomeStatus | None, limit: int, offset: int
    ) -> list[PartnerQuoteCall]:
        """A page of one insurer's outcomes, the latest asked first: the request's id and time,
        nothing of the seller beyond what the insurer was sent."""
        return await repository.partner_calls(
            self.db, provider_id, status=status, limit=limit, offset=offset
        )

    async def attempts(self, principal: Principal, request_id: str) -> list[InsurerAttempt]:
        """The captured HTTP attempts of a request, oldest first (secrets already removed)."""
        await self.load(principal, request_id)
        return await repository.list_attempts(self.db, request_id)
