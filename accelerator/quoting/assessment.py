"""How each offer of a request measures up to the marketplace rules in force at its start."""

from __future__ import annotations

from accelerator.compliance.evaluate import evaluate_cover, terms_of_offer
from accelerator.rulesets.loader import RuleBook
from schemas import ComplianceResult, Offer, QuoteRequest, RuleSetRef


def assess_offer(rulebook: RuleBook, request: QuoteRequest, offer: Offer) -> ComplianceResult:
    """Compliance of ``offer`` for the requesting seller, against the version in force on the
    offer's effective date (the nearest one for a date without rules: a stored offer must
    always be shown)."""
    seller = request.seller
    version = rulebook.version_nearest(seller.marketplace, offer.effective_date)
    gaps = evaluate_cover(
        terms_of_offer(offer, seller.legal_name),
        version,
        categories=[c.category for c in seller.categories],
        legal_name=seller.legal_name,
    )
    return ComplianceResult(
        compliant=not gaps,
        gaps=gaps,
        rule_set=RuleSetRef(
            marketplace=version.marketplace,
            version=version.version,
            overridden=list(version.overridden),
        ),
    )
