"""A policy's renewal as the API shows it: the quote request that renews it, with its offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accelerator.auth.principal import Principal
from accelerator.coverage.service import CoverageService
from accelerator.errors import NotFound
from accelerator.quoting.service import QuotingService, StoredRequest
from accelerator.renewals.timing import RENEWAL_DAYS, renewal_opens
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.zones import local_date
from accelerator.sellers.service import SellerService
from schemas import OfferStatus, PolicyDocument, QuoteRequestView


@dataclass(frozen=True)
class RenewalReady:
    """A renewal with offers the seller can buy now, beside the policy it renews."""

    policy_id: str
    policy_number: str
    insurer_name: str
    ends_at: datetime
    request_id: str
    offers: int


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
        _, stored = await self.stored_renewal(principal, policy_id)
        return self.quoting.view(stored)

    async def stored_renewal(
        self, principal: Principal, policy_id: str
    ) -> tuple[PolicyDocument, StoredRequest]:
        """The policy and the request renewing it, as stored; NotFound as :meth:`renewal`."""
        document = await self.coverage.document(principal, policy_id)
        stored = await self.quoting.renewal_of(policy_id)
        if stored is None:
            raise NotFound("renewal", await self._not_yet(document))
        return document, stored

    async def ready(
        self, principal: Principal, seller_id: str, now: datetime
    ) -> list[RenewalReady]:
        """The seller's renewals not bought yet that have an offer it can buy at ``now`` (open,
        firm and still valid), oldest first."""
        found = []
        for stored in await self.quoting.open_renewals(principal, seller_id):
            policy_id = stored.row.renews_policy_id
            if policy_id is None:
                continue
            buyable = [
                row
                for row, offer in stored.offers
                if row.status == OfferStatus.OPEN and offer.bindable and row.valid_until > now
            ]
            if not buyable:
                continue
            document = await self.coverage.document(principal, policy_id)
            found.append(
                RenewalReady(
                    policy_id=policy_id,
                    policy_number=document.terms.policy_number,
                    insurer_name=document.terms.insurer_name,
                    ends_at=document.terms.expires_at,
                    request_id=stored.row.id,
                    offers=len(buyable),
                )
            )
        return found

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


__all__ = ["RenewalReady", "RenewalService"]
