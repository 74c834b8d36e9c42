"""Why an insurer was not asked, in words a seller can act on.

``providers.eligibility`` gives a stable code; the seller sees a sentence naming what the
insurer does not write and, where there is one, what would change its answer. The words are
the outcome's ``reason``, shown by the API and the quote page alike.
"""

from __future__ import annotations

from accelerator.risk.taxonomy import category_label
from providers import Appetite
from schemas import QuoteRequest


def _prefix_matches(category: str, prefix: str) -> bool:
    # As providers.eligibility matches: whole path segments ("toys" covers "toys/plush").
    return prefix == "" or category == prefix or category.startswith(prefix.rstrip("/") + "/")


def _amount(value: object, currency: str) -> str:
    return f"{value:,.0f} {currency}"


def not_asked_reason(code: str, appetite: Appetite, request: QuoteRequest, insurer: str) -> str:
    """The sentence for eligibility ``code`` (one of ``providers.eligibility``'s)."""
    seller, cover = request.seller, request.cover
    currency = seller.annual_sales.currency
    categories = [share.category for share in seller.categories]
    if code == "marketplace_not_written":
        return f"{insurer} does not insure sellers on the {seller.marketplace} marketplace."
    if code == "currency_not_written":
        return f"{insurer} does not write cover in {currency}."
    if code == "revenue_outside_band":
        bands = [b for b in appetite.revenue_bands if b.currency == currency]
        ranges = " or ".join(
            f"{_amount(b.minimum, currency)} to {_amount(b.maximum, currency)}" for b in bands
        )
        return f"{insurer} insures businesses with annual sales of {ranges}."
    if code == "category_excluded":
        excluded = next(
            c
            for c in categories
            if any(_prefix_matches(c, p) for p in appetite.excluded_categories)
        )
        return f"{insurer} does not insure {category_label(excluded)}."
    if code == "category_not_written":
        unwritten = [
            c for c in categories if not any(_prefix_matches(c, p) for p in appetite.categories)
        ]
        named = ", ".join(category_label(c) for c in unwritten)
        return (
            f"{insurer} does not insure {named}; it writes "
            f"{', '.join(category_label(p) for p in appetite.categories if p)}."
        )
    if code == "limit_above_capacity":
        most = _amount(appetite.max_per_occurrence, cover.per_occurrence.currency)
        return (
            f"{insurer} offers at most {most} per occurrence; ask for that limit or less to "
            "get its quote."
        )
    if code == "risk_above_appetite":
        return (
            f"{insurer} insures sellers with a risk score up to {appetite.max_risk_score}; "
            f"yours is {seller.risk_score}."
        )
    return f"{insurer} does not quote this request ({code})."
