"""Seller profiles: validate the facts, compute the risk profile, store both as a new version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from accelerator.auth.principal import Principal, ensure_acts_for
from accelerator.errors import Conflict, InvalidInput, NotFound
from accelerator.infra.database import Database
from accelerator.risk.profile import InvalidSellerFactsError, build_risk_profile
from accelerator.risk.taxonomy import Taxonomy
from accelerator.risk.validation import validate_seller_facts
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers import repository
from accelerator.sellers.repository import StoredProfile
from schemas import RiskProfile, SellerFacts

__all__ = ["SellerService", "StoredProfile"]


@dataclass(frozen=True)
class SellerService:
    db: Database
    rulebook: RuleBook
    taxonomy: Taxonomy

    def profile_for(self, facts: SellerFacts, today: date) -> RiskProfile:
        """Validate ``facts`` and compute the profile; InvalidInput naming every bad field."""
        errors = validate_seller_facts(facts, today, self.rulebook, self.taxonomy)
        if errors:
            raise InvalidInput(errors)
        try:
            return build_risk_profile(facts, today, self.rulebook, self.taxonomy)
        except InvalidSellerFactsError as invalid:  # what only the whole profile shows
            raise InvalidInput(invalid.errors) from invalid

    async def put_profile(
        self, principal: Principal, seller_id: str, facts: SellerFacts
    ) -> StoredProfile:
        """Store a new profile version (creating the seller if new) and return it."""
        ensure_acts_for(principal, seller_id)
        now = datetime.now(UTC)
        profile = self.profile_for(facts, now.date())
        async with self.db.writing() as session:
            return await repository.store_profile(session, seller_id, facts, profile, now)

    async def read_profile(
        self, principal: Principal, seller_id: str, version: int | None = None
    ) -> StoredProfile:
        """The latest (or the given) profile version, for a caller that may act for the seller."""
        ensure_acts_for(principal, seller_id)
        return await self.get_profile(seller_id, version)

    async def get_profile(self, seller_id: str, version: int | None = None) -> StoredProfile:
        """The latest (or the given) profile version; NotFound if there is none. For callers
        that have already established who may see it."""
        if version is None:
            stored = await repository.latest_profile(self.db.lookups, seller_id)
            if stored is None:
                raise NotFound("seller_profile", f"Seller {seller_id!r} has no profile yet.")
            return stored
        stored = await repository.profile_version(self.db.lookups, seller_id, version)
        if stored is None:
            raise NotFound(
                "seller_profile", f"Seller {seller_id!r} has no profile version {version}."
            )
        return stored

    async def require_profile(self, seller_id: str) -> StoredProfile:
        """The latest profile, or a Conflict telling the caller to create one first."""
        try:
            return await self.get_profile(seller_id)
        except NotFound as missing:
            raise Conflict(
                "profile_required",
                "The seller needs a risk profile first",
                f"PUT /v1/sellers/{seller_id}/profile before requesting quotes.",
            ) from missing
