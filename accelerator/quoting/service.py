"""Quote requests: build the canonical request from the seller's profile, run it, show it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import load_only

from accelerator.auth.guards import ensure_seller_access
from accelerator.auth.principal import Principal, Role
from accelerator.infra.database import Database
from accelerator.infra.errors import not_found
from accelerator.quoting.models import AttemptRow, InsurerOutcomeRow, OfferRow, QuoteRequestRow
from accelerator.quoting.runner import QuoteRunner, record_request
from accelerator.quoting.stored import StoredRequest as StoredRequest  # the pages import it here
from accelerator.quoting.stored import read_request
from accelerator.sellers.service import SellerService, StoredProfile
from schemas import (
    DesiredCover,
    Progress,
    QuoteRequest,
    QuoteRequestBody,
    QuoteRequestSummary,
    SellerSnapshot,
)

_SUMMARY_COLUMNS = (
    QuoteRequestRow.id,
    QuoteRequestRow.seller_id,
    QuoteRequestRow.status,
    QuoteRequestRow.created_at,
    QuoteRequestRow.deadline_at,
    QuoteRequestRow.completed_at,
)


def default_cover(stored: StoredProfile, today: datetime) -> DesiredCover:
    """The seller's recommended limits, the marketplace's maximum deductible, from tomorrow."""
    profile = stored.profile
    return DesiredCover(
        per_occurrence=profile.recommended_cover.per_occurrence,
        aggregate=profile.recommended_cover.aggregate,
        max_deductible=profile.requirement.minimum_cover.max_deductible,
        effective_date=(today + timedelta(days=1)).date(),
        term_months=12,
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
    db: Database
    sellers: SellerService
    runner: QuoteRunner
    default_deadline_seconds: float
    max_deadline_seconds: float

    def deadline_for(self, asked: float | None) -> float:
        """The request's own deadline, never above the configured maximum."""
        return min(asked or self.default_deadline_seconds, self.max_deadline_seconds)

    async def create(
        self, principal: Principal, body: QuoteRequestBody
    ) -> tuple[QuoteRequest, float]:
        """Persist the request (and an ``awaiting`` row per insurer), then start the fan-out."""
        ensure_seller_access(principal, body.seller_id)
        stored = await self.sellers.require_profile(body.seller_id)
        now = datetime.now(UTC)
        request = QuoteRequest(
            request_id=str(uuid.uuid4()),
            seller=snapshot(stored),
            cover=body.cover or default_cover(stored, now),
        )
        deadline = self.deadline_for(body.deadline_seconds)
        await record_request(
            self.db, request, self.runner.partners, now + timedelta(seconds=deadline)
        )
        self.runner.start(request, deadline)
        return request, deadline

    async def load(self, principal: Principal, request_id: str) -> StoredRequest:
        """The request with every outcome and offer; 404 for another seller's (no leak)."""
        stored = await read_request(self.db, request_id)
        if stored is None or not principal.may_act_for_seller(stored.row.seller_id):
            raise not_found("quote_request", f"No quote request {request_id!r}.")
        return stored

    async def summaries(
        self,
        principal: Principal,
        seller_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> list[QuoteRequestSummary]:
        """A page of requests, newest first: a seller key sees its own seller's only."""
        if principal.role is Role.SELLER:
            seller_id = seller_id or principal.seller_id
        if seller_id is not None:
            ensure_seller_access(principal, seller_id)
        query = (
            select(QuoteRequestRow)
            # A list does not need each request's whole snapshot (the JSON column).
            .options(load_only(*_SUMMARY_COLUMNS))
            .order_by(QuoteRequestRow.created_at.desc(), QuoteRequestRow.id.desc())
        )
        if seller_id is not None:
            query = query.where(QuoteRequestRow.seller_id == seller_id)
        if status is not None:
            query = query.where(QuoteRequestRow.status == status)
        async with self.db.reading() as session:
            rows = (await session.scalars(query.limit(limit).offset(offset))).all()
            ids = [row.id for row in rows]
            answered = InsurerOutcomeRow.status != "awaiting"
            outcomes = await session.execute(
                select(InsurerOutcomeRow.request_id, func.count(), func.count(case((answered, 1))))
                .where(InsurerOutcomeRow.request_id.in_(ids))
                .group_by(InsurerOutcomeRow.request_id)
            )
            outcome_counts = {request_id: (total, done) for request_id, total, done in outcomes}
            offers = await session.execute(
                select(OfferRow.request_id, func.count())
                .where(OfferRow.request_id.in_(ids), OfferRow.status != "withdrawn")
                .group_by(OfferRow.request_id)
            )
            offer_counts = {request_id: count for request_id, count in offers}
        return [
            QuoteRequestSummary(
                id=row.id,
                seller_id=row.seller_id,
                status=row.status,  # type: ignore[arg-type]
                created_at=row.created_at,
                deadline_at=row.deadline_at,
                completed_at=row.completed_at,
                progress=Progress(
                    insurers=outcome_counts.get(row.id, (0, 0))[0],
                    answered=outcome_counts.get(row.id, (0, 0))[1],
                    offers=offer_counts.get(row.id, 0),
                ),
            )
            for row in rows
        ]

    async def attempts(self, principal: Principal, request_id: str) -> list[dict[str, Any]]:
        """The captured HTTP attempts of a request, oldest first (secrets already removed)."""
        await self.load(principal, request_id)
        async with self.db.reading() as session:
            rows = (
                await session.scalars(
                    select(AttemptRow)
                    .where(AttemptRow.request_id == request_id)
                    .order_by(AttemptRow.id)
                )
            ).all()
        return [{"provider_id": r.provider_id, **r.capture} for r in rows]
