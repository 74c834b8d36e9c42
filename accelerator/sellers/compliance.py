"""A seller's compliance status: the requirement now, and whether a qualifying policy meets it."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.datastructures import State

from accelerator.sellers.service import SellerService
from schemas._profiles import ComplianceGap, ComplianceStatus


async def compliance_status(
    state: State, seller_id: str, now: datetime | None = None
) -> ComplianceStatus:
    now = now or datetime.now(UTC)
    sellers: SellerService = state.sellers
    stored = await sellers.get_profile(seller_id)
    # Re-evaluated today: a requirement can start (or a deadline pass) without a new profile.
    requirement = sellers.profile_for(stored.facts, now.date()).requirement
    days_left = (requirement.comply_by - now.date()).days if requirement.comply_by else None
    gaps = (
        [ComplianceGap(code="no_policy", message="No qualifying policy is on record.")]
        if requirement.required
        else []
    )
    return ComplianceStatus(
        seller_id=seller_id,
        as_of=now,
        requirement=requirement,
        compliant_now=not requirement.required,
        days_until_deadline=days_left,
        gaps=gaps,
    )
