"""The seller the quoting benchmark and drills ask for, inside every sandbox insurer's appetite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from accelerator.infra.database import open_database
from accelerator.quoting.cover import default_cover
from accelerator.quoting.service import snapshot
from accelerator.risk.taxonomy import load_taxonomy
from accelerator.rulesets.loader import load_rulesets
from accelerator.sellers.service import SellerService
from schemas import QuoteRequest

SELLER_ID = "bench-seller"


def seller_facts(legal_name: str = "Bench Furniture LLC") -> dict[str, Any]:
    """Facts of a furniture importer selling 14,000 USD a month: every sandbox insurer quotes."""
    return {
        "legal_name": legal_name,
        "marketplace": "US",
        "monthly_sales": [
            {"month": "2026-09", "gross_sales": {"amount": "14000.00", "currency": "USD"}}
        ],
        "categories": [{"category": "home/furniture", "revenue_share": "1"}],
        "business_model": "importer",
        "fulfilment": "marketplace_fulfilled",
        "years_in_business": 4,
        "claims_last_5_years": {"count": 0, "amount_paid": {"amount": "0", "currency": "USD"}},
        "recalls_last_5_years": 0,
        "manufacturing_countries": ["CN"],
    }


def canonical_request(database_url: str, seller_id: str, request_id: str) -> QuoteRequest:
    """The canonical quote request the service builds for this seller's stored profile."""

    async def build() -> QuoteRequest:
        db, rulebook = open_database(database_url), load_rulesets()
        try:
            stored = await SellerService(db, rulebook, load_taxonomy()).require_profile(seller_id)
        finally:
            await db.dispose()
        today = rulebook.local_date(stored.facts.marketplace, datetime.now(UTC))
        return QuoteRequest(
            request_id=request_id, seller=snapshot(stored), cover=default_cover(stored, today)
        )

    return asyncio.run(build())
