"""A policy's renewal as the API shows it: the quote request that renews it, with its offers."""

from __future__ import annotations

from dataclasses import dataclass

from accelerator.auth.principal import Principal
from accelerator.coverage.service import CoverageService
from accelerator.errors import NotFound
from accelerator.quoting.service import QuotingService
from accelerator.renewals.timing import RENEWAL_DAYS, renewal_opens
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.zones import local_date
from accelerator.sellers.service import SellerService
from schemas import PolicyDocument, QuoteRequestView


@dataclass(frozen=True)
class RenewalService:
    """Renewals for whoever may read the policy: its seller's key, the claims role, admins."""

    coverage: CoverageService
    quoting: QuotingService
    sellers: SellerService
    rulebook: RuleBook

    async def renewal(self, principal: Principal, policy_id: str) -> QuoteRequestView:
        """The renewal quote request of ``policy_id`` with its offers ranked; NotFound for a
        policy the caller may not read, and (``renewal_not_found``, saying when it opens) while
        the policy has none."""
        document = await self.coverage.document(principal, policy_id)
        stored = await self.quoting.renewal_of(policy_id)
        if stored is None:
            raise NotFound("renewal", await self._not_yet(document))
        return self.quoting.view(stored)

    async def _not_yet(self, document: PolicyDocument) -> str:
        ends = document.terms.expires_at
        try:
            stored = await self.sellers.get_profile(document.seller_id)
        except NotFound:
            return (
                f"Policy {document.id} has no renewal: a renewal is quoted from the seller's risk "
                "profile, and the seller has none."
            )
        timezone = self.rulebook.timezone(stored.facts.marketplace)
        return (
            f"Policy {document.id} has no renewal yet: a renewal opens {RENEWAL_DAYS} days "
            f"before a policy ends, for this one on {renewal_opens(ends, timezone).isoformat()} "
            f"(it ends on {local_date(ends, timezone).isoformat()}, {timezone}), while it is in "
            "force and not cancelled, lapsed or scheduled to cancel."
        )


__all__ = ["RenewalService"]
