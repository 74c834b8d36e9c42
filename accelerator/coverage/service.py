"""Coverage checks for the claims engine, and the registry's seller and admin operations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from accelerator.coverage.decision import decide, rule_set_for_incident
from accelerator.coverage.models import PolicyRow
from accelerator.coverage.queries import sellers_with_events
from accelerator.coverage.registry import add_event, create_policy
from accelerator.coverage.state import derive_state, policy_period_from_dates
from accelerator.coverage.views import policy_document
from accelerator.infra.database import Database
from accelerator.infra.errors import ApiProblem, FieldProblem, invalid_input, not_found
from accelerator.risk.taxonomy import Taxonomy
from accelerator.rulesets.loader import NoRuleSetVersionError, RuleBook, UnknownMarketplaceError
from accelerator.rulesets.model import RuleSetVersion
from accelerator.sellers.models import Seller
from schemas import (
    CertificateSubmission,
    CoverageCheckRequest,
    CoverageDecision,
    PolicyDocument,
    PolicyTerms,
)


@dataclass(frozen=True)
class CheckError(Exception):
    """One check that cannot be decided: its field problems."""

    problems: tuple[FieldProblem, ...]


@dataclass(frozen=True)
class CoverageService:
    db: Database
    rulebook: RuleBook
    taxonomy: Taxonomy

    def _version_for(self, claim: CoverageCheckRequest) -> RuleSetVersion:
        problems: list[FieldProblem] = []
        if claim.product_category not in self.taxonomy:
            problems.append(
                FieldProblem(
                    "product_category",
                    "unknown_category",
                    f"Unknown product category {claim.product_category!r}.",
                    list(self.taxonomy.suggest(claim.product_category)) or None,
                )
            )
        try:
            version = rule_set_for_incident(self.rulebook, claim.marketplace, claim.incident_at)
        except UnknownMarketplaceError as exc:
            problems.append(
                FieldProblem("marketplace", "unknown_marketplace", str(exc), list(exc.known))
            )
        except NoRuleSetVersionError as exc:
            problems.append(FieldProblem("incident_at", "no_rule_set_in_force", str(exc)))
        if problems:
            raise CheckError(tuple(problems))
        return version

    async def check_many(
        self, claims: Sequence[CoverageCheckRequest], now: datetime | None = None
    ) -> list[CoverageDecision | CheckError]:
        """Decide each claim (same order); a claim that cannot be decided gets its CheckError."""
        evaluated_at = now or datetime.now(UTC)
        seller_ids = {c.seller_id for c in claims}
        policies, names = await sellers_with_events(self.db.lookups, seller_ids)
        results: list[CoverageDecision | CheckError] = []
        for claim in claims:
            try:
                version = self._version_for(claim)
            except CheckError as error:
                results.append(error)
                continue
            held = policies.get(claim.seller_id, {})
            candidates = [
                (policy_id, source, derive_state(events, known_at=claim.known_at))
                for policy_id, (source, events) in sorted(held.items())
            ]
            results.append(
                decide(
                    claim,
                    candidates,
                    version,
                    legal_name=names.get(claim.seller_id),
                    evaluated_at=evaluated_at,
                )
            )
        return results

    async def check(self, claim: CoverageCheckRequest) -> CoverageDecision:
        [result] = await self.check_many([claim])
        if isinstance(result, CheckError):
            raise invalid_input(result.problems)
        return result

    async def submit(self, seller_id: str, certificate: CertificateSubmission) -> PolicyDocument:
        """Record a policy bought elsewhere as ``pending_verification``, with its gaps."""
        now = datetime.now(UTC)
        async with self.db.writing() as session:
            seller = await session.get(Seller, seller_id)
            if seller is None:
                raise not_found("seller", f"Seller {seller_id!r} has no profile yet.")
            version = self.rulebook.version_at(seller.marketplace, now.date())
            problems = _certificate_problems(certificate, version.currency)
            if certificate.expiry_date <= certificate.effective_date:
                problems.append(
                    FieldProblem(
                        "expiry_date",
                        "expiry_before_effective",
                        "The expiry date must be after the effective date.",
                    )
                )
            if problems:
                raise invalid_input(problems)
            duplicate = await session.scalar(
                select(PolicyRow.id).where(
                    PolicyRow.insurer_name == certificate.insurer_name,
                    PolicyRow.policy_number == certificate.policy_number,
                )
            )
            if duplicate is not None:
                raise ApiProblem(
                    409,
                    "policy_already_registered",
                    "This policy is already in the registry",
                    f"Policy {certificate.policy_number} of {certificate.insurer_name} "
                    f"is {duplicate}.",
                )
            start, end = policy_period_from_dates(
                certificate.effective_date, certificate.expiry_date, version.reference_timezone
            )
            terms = PolicyTerms(
                insurer_name=certificate.insurer_name,
                insurer_rating=certificate.insurer_rating,
                policy_number=certificate.policy_number,
                named_insured=certificate.named_insured,
                policy_form=certificate.policy_form,
                per_occurrence_limit=certificate.each_occurrence,
                aggregate_limit=certificate.general_aggregate,
                products_completed_operations_aggregate=certificate.products_completed_operations_aggregate,
                deductible=certificate.deductible,
                additional_insureds=list(certificate.additional_insureds),
                territories=list(certificate.territories),
                covered_categories=list(certificate.covered_categories),
                effective_at=start,
                expires_at=end,
                cancellation_notice_days=certificate.cancellation_notice_days,
            )
            policy = await create_policy(
                session,
                seller_id=seller_id,
                terms=terms,
                source="submitted",
                recorded_at=now,
                event_id=f"submitted.{uuid.uuid4()}",
            )
            return await policy_document(session, policy.id, self.rulebook, now)

    async def review(
        self, policy_id: str, *, verified: bool, reason: str, event_id: str | None = None
    ) -> PolicyDocument:
        """An admin verifies or rejects a submitted policy."""
        now = datetime.now(UTC)
        async with self.db.writing() as session:
            policy = await session.get(PolicyRow, policy_id)
            if policy is None:
                raise not_found("policy", f"No policy {policy_id!r}.")
            await add_event(
                session,
                policy,
                event_id=event_id or f"review.{uuid.uuid4()}",
                kind="verified" if verified else "verification_rejected",
                effective_at=now,
                recorded_at=now,
                data={"reason": reason} if reason else {},
            )
            await session.flush()
            return await policy_document(session, policy.id, self.rulebook, now)

    async def document(self, policy_id: str) -> tuple[str, PolicyDocument]:
        """The policy (and its seller id, for access checks)."""
        async with self.db.reading() as session:
            document = await policy_document(session, policy_id, self.rulebook, datetime.now(UTC))
        return document.seller_id, document

    async def seller_policies(
        self, seller_id: str, *, limit: int, offset: int
    ) -> list[PolicyDocument]:
        now = datetime.now(UTC)
        async with self.db.reading() as session:
            ids = (
                await session.scalars(
                    select(PolicyRow.id)
                    .where(PolicyRow.seller_id == seller_id)
                    .order_by(PolicyRow.created_at, PolicyRow.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            return [await policy_document(session, pid, self.rulebook, now) for pid in ids]


def _certificate_problems(certificate: CertificateSubmission, currency: str) -> list[FieldProblem]:
    money_fields = {
        "each_occurrence": certificate.each_occurrence,
        "general_aggregate": certificate.general_aggregate,
        "products_completed_operations_aggregate": (
            certificate.products_completed_operations_aggregate
        ),
        "deductible": certificate.deductible,
    }
    problems = [
        FieldProblem(
            f"{name}.currency",
            "currency_mismatch",
            f"Amounts must be in {currency}, the marketplace's currency.",
        )
        for name, value in money_fields.items()
        if value.currency != currency
    ]
    problems += [
        FieldProblem(f"{name}.amount", "negative_amount", "Amounts cannot be negative.")
        for name, value in money_fields.items()
        if value.amount < 0 or not value.amount.is_finite()
    ]
    return problems
