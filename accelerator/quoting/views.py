"""A quote request as the API and the pages show it: stored rows, assessed and ranked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from accelerator.quoting.assessment import assess_offer
from accelerator.quoting.repository import StoredRequest
from accelerator.ranking.score import RankingStrategy
from accelerator.rulesets.loader import RuleBook
from schemas import (
    ComplianceResult,
    OfferStatus,
    OutcomeStatus,
    Progress,
    QuoteRequestView,
    RankedOffer,
)


def request_view(
    stored: StoredRequest,
    rulebook: RuleBook,
    ranking: RankingStrategy,
    now: datetime,
    assessed: Mapping[str, ComplianceResult] | None = None,
) -> QuoteRequestView:
    """The request, every insurer's outcome, and its offers ranked as of ``now``.
    ``assessed``: offers already assessed against ``rulebook``, by offer id."""
    row = stored.row
    offers = rank_stored_offers(stored, rulebook, ranking, now, assessed)
    answered = sum(1 for o in stored.outcomes if o.status != OutcomeStatus.AWAITING)
    return QuoteRequestView(
        id=row.id,
        seller_id=row.seller_id,
        status=row.status,
        created_at=row.created_at,
        deadline_at=row.deadline_at,
        completed_at=row.completed_at,
        progress=Progress(insurers=len(stored.outcomes), answered=answered, offers=len(offers)),
        cover=stored.request.cover,
        outcomes=stored.outcomes,
        offers=offers,
        bind_failure=row.bind_failure,
        renews_policy_id=row.renews_policy_id,
    )


def rank_stored_offers(
    stored: StoredRequest,
    rulebook: RuleBook,
    ranking: RankingStrategy,
    now: datetime,
    known: Mapping[str, ComplianceResult] | None = None,
) -> list[RankedOffer]:
    """Every offer with its compliance and score, compliant ones first (see docs/ranking.md).
    ``known``: offers already assessed against ``rulebook``, by offer id."""
    # An offer its insurer withdrew (a later answer replaced it) is no longer on the table.
    current = [(row, offer) for row, offer in stored.offers if row.status != OfferStatus.WITHDRAWN]
    rows = {row.id: row for row, _ in current}
    known = known or {}
    assessed = {
        row.id: known.get(row.id) or assess_offer(rulebook, stored.request, offer)
        for row, offer in current
    }
    ranked = ranking.rank([(row.id, offer, assessed[row.id].gaps) for row, offer in current])
    views = []
    for item in ranked:
        row = rows[item.offer_id]
        expired = row.status == OfferStatus.OPEN and row.valid_until <= now
        views.append(
            RankedOffer(
                id=item.offer_id,
                rank=item.rank,
                status=OfferStatus.EXPIRED if expired else row.status,
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
