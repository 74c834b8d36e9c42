"""Builders of canonical requests for provider tests (factories, not copy-pasted dicts)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from schemas import QuoteRequest


def quote_request(**changes: Any) -> QuoteRequest:
    """A valid US quote request; keyword arguments replace seller fields or cover fields."""
    seller: dict[str, Any] = {
        "seller_id": "s-1",
        "legal_name": "Volt Goods LLC",
        "marketplace": "US",
        "categories": [
            {"category": "home/decor", "revenue_share": "0.6"},
            {"category": "home/kitchen/cookware", "revenue_share": "0.4"},
        ],
        "annual_sales": {"amount": "2400000", "currency": "USD"},
        "business_model": "private_label",
        "risk_tier": "C",
        "risk_score": 48,
        "years_in_business": 3,
        "manufacturing_countries": ["CN"],
    }
    cover: dict[str, Any] = {
        "per_occurrence": {"amount": "1000000", "currency": "USD"},
        "aggregate": {"amount": "2000000", "currency": "USD"},
        "max_deductible": {"amount": "10000", "currency": "USD"},
        "effective_date": date(2026, 1, 1).isoformat(),
        "term_months": 12,
    }
    for key, value in changes.items():
        (cover if key in cover else seller)[key] = value
    return msgspec.convert(
        {"request_id": "qr-1", "seller": seller, "cover": cover}, QuoteRequest, strict=False
    )


def usd(amount: int | str) -> dict[str, str]:
    return {"amount": str(Decimal(amount)), "currency": "USD"}
