"""The seller's compliance status, as the API and the seller pages serve it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from accelerator.auth.principal import Principal, ensure_acts_for
from accelerator.compliance.status import compliance_status
from accelerator.coverage import repository as registry
from accelerator.coverage.decision import PolicyCandidate, rule_set_for_incident
from accelerator.infra.database import Database
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import SellerService
from schemas import ComplianceStatus


@dataclass(frozen=True)
class ComplianceService:
    """Reads the seller's latest profile (``sellers``) and its policies (the coverage registry
    on ``db``), and judges them against ``rulebook``."""

    db: Database
    sellers: SellerService
    rulebook: RuleBook

    async def status(
        self, principal: Principal, seller_id: str, now: datetime | None = None
    ) -> ComplianceStatus:
        """The seller's status as of ``now``; NotFound when the seller has no profile,
        Forbidden for a key of another seller."""
        ensure_acts_for(principal, seller_id)
        now = now or datetime.now(UTC)
        stored = await self.sellers.get_profile(seller_id)
        # Profiles are computed on the service's (UTC) date, as when they were stored.
        requirement = self.sellers.profile_for(stored.facts, now.date()).requirement
        version = rule_set_for_incident(self.rulebook, stored.facts.marketplace, now)
        return compliance_status(
            seller_id,
            requirement,
            version,
            await registry.held_policies(self.db.lookups, seller_id),
            categories=[share.category for share in stored.facts.categories],
            legal_name=stored.facts.legal_name,
            now=now,
        )

    async def held_policies(self, principal: Principal, seller_id: str) -> list[PolicyCandidate]:
        """The seller's policies with their states derived from every event on record (what
        :meth:`status` judges); Forbidden for a key of another seller."""
        ensure_acts_for(principal, seller_id)
        return await registry.held_policies(self.db.lookups, seller_id)
