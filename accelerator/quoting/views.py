"""Assemble API views of quote requests and providers from stored rows and pure decisions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from litestar.datastructures import State

from accelerator.quoting.assessment import assess_offer
from accelerator.quoting.fanout import Partner
from accelerator.quoting.stored import StoredRequest
from accelerator.ranking.score import RankingStrategy
from schemas import (
    ComplianceResult,
    Progress,
    ProviderInfo,
    QuoteRequestView,
    RankedOffer,
    RevenueBandView,
)


def provider_directory(partners: Mapping[str, Partner]) -> list[ProviderInfo]:
    return [
        ProviderInfo(
            provider_id=pid,
            insurer_name=p.adapter.insurer_name,
            adapter=p.settings.adapter or pid,
            signature_scheme=p.adapter.signature_scheme,
            marketplaces=sorted(p.adapter.appetite.marketplaces),
            categories=list(p.adapter.appetite.categories),
            excluded_categories=list(p.adapter.appetite.excluded_categories),
            revenue_bands=[
                RevenueBandView(currency=b.currency, minimum=str(b.minimum), maximum=str(b.maximum))
                for b in p.adapter.appetite.revenue_bands
            ],
            max_per_occurrence=p.adapter.appetite.max_per_occurrence,
            max_risk_score=p.adapter.appetite.max_risk_score,
            breaker=p.breaker.state.value,
            enabled=p.settings.enabled,
        )
        for pid, p in sorted(partners.items())
    ]


def request_view(
    state: State, stored: StoredRequest, now: datetime | None = None
) -> QuoteRequestView:
    now = now or datetime.now(UTC)
    row = stored.row
    offers = rank_stored_offers(state, stored, now)
    answered = sum(1 for o in stored.outcomes if o.status != "awaiting")
    return QuoteRequestView(
        id=row.id,
        seller_id=row.seller_id,
        status=row.status,  # type: ignore[arg-type]
        created_at=row.created_at,
        deadline_at=row.deadline_at,
        completed_at=row.completed_at,
        progress=Progress(insurers=len(stored.outcomes), answered=answered, offers=len(offers)),
        cover=stored.request.cover,
        outcomes=stored.outcomes,
        offers=offers,
    )


def rank_stored_offers(state: State, stored: StoredRequest, now: datetime) -> list[RankedOffer]:
    """Every offer with its compliance and score, compliant ones first (see docs/ranking.md)."""
    # An offer its insurer withdrew (a later answer replaced it) is no longer on the table.
    current = [(row, offer) for row, offer in stored.offers if row.status != "withdrawn"]
    rows = {row.id: row for row, _ in current}
    assessed = {
        row.id: assess_offer(state.rulebook, stored.request, offer) for row, offer in current
    }
    strategy: RankingStrategy = state.ranking
    ranked = strategy.rank([(row.id, offer, assessed[row.id].gaps) for row, offer in current])
    views = []
    for item in ranked:
        row = rows[item.offer_id]
        status = "expired" if row.status == "open" and row.valid_until <= now else row.status
        views.append(
            RankedOffer(
                id=item.offer_id,
                rank=item.rank,
                status=status,  # type: ignore[arg-type]
                compliance=ComplianceResult(
                    compliant=item.compliant,
                    gaps=item.gaps,
                    rule_set=assessed[item.offer_id].rule_set,
                ),
                score=item.score,
                offer=item.offer,
            )
        )
    return views
