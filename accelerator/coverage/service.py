"""Coverage checks for the claims engine, and the registry's seller and admin operations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NamedTuple

import msgspec

from accelerator import __version__
from accelerator.audit.receipts import ReceiptWriter, new_receipt_ids
from accelerator.auth.principal import Principal, Role, ensure_acts_for
from accelerator.coverage import repository
from accelerator.coverage.decision import decide_checked, rule_set_for_incident
from accelerator.coverage.flags import recorded_after_incident
from accelerator.coverage.linking import InsurerDirectory, insurer_key
from accelerator.coverage.repository import SellerPolicies
from accelerator.coverage.state import EventKind, derive_state, policy_period_from_dates
from accelerator.coverage.together import DecidedTogether
from accelerator.coverage.views import render_policy
from accelerator.errors import Conflict, FieldError, InvalidInput, NotFound
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.infra.metrics import NO_METRICS, Metrics
from accelerator.risk.taxonomy import Taxonomy
from accelerator.rulesets.loader import NoRuleSetVersionError, RuleBook, UnknownMarketplaceError
from accelerator.rulesets.model import RuleSetVersion
from accelerator.sellers import repository as sellers
from schemas import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    CertificateSubmission,
    CoverageCheckRequest,
    CoverageDecision,
    PolicyDocument,
    PolicySource,
    PolicyTerms,
    ReceiptContent,
)


async def policy_document(
    session: ReadSession | WriteSession,
    policy_id: str,
    rulebook: RuleBook,
    now: datetime,
    *,
    operator: bool = False,
) -> PolicyDocument:
    """The policy's document as of ``now``, read in the caller's session (binding shows the
    policy it has just registered, before committing); NotFound when there is no such policy.
    Only the ``operator`` view shows the operators' own bookkeeping (links and their notes)."""
    policy = await repository.policy(session, policy_id)
    if policy is None:
        raise NotFound("policy", f"No policy {policy_id!r}.")
    seller = await sellers.seller(session, policy.seller_id)
    events = await repository.policy_events(session, policy_id)
    return render_policy(policy, events, seller, rulebook, now, operator=operator)


def recorded_by(principal: Principal) -> str:
    """How the event log names the operator who recorded a fact: by key id, never by secret."""
    return f"admin:{principal.key_id}"


class Decided(NamedTuple):
    """A claim decided: the decision (with its flags), the events of the policy it names (in
    the order they apply) and every event of the seller's policies it was decided on."""

    decision: CoverageDecision
    relied_on: list[str]
    considered: list[str]

    def receipt(self, claim: CoverageCheckRequest, receipt_id: str) -> ReceiptContent:
        """The receipt of this decision, which then carries the receipt's id."""
        decision = msgspec.structs.replace(
            self.decision, claim_reference=claim.claim_reference, receipt_id=receipt_id
        )
        return ReceiptContent(
            id=receipt_id,
            seller_id=claim.seller_id,
            claim_reference=claim.claim_reference,
            request=claim,
            known_at=claim.known_at or decision.evaluated_at,
            evaluated_at=decision.evaluated_at,
            decision=decision,
            event_ids=self.relied_on,
            considered_event_ids=self.considered,
            service_version=__version__,
        )


#: Reads of single checks decided together in flight at once (coverage.together): while they
#: run, the checks arriving queue for the next.
_READS_IN_FLIGHT: Final = 2


@dataclass(frozen=True)
class CoverageService:
    db: Database
    rulebook: RuleBook
    taxonomy: Taxonomy
    # Where every decision's receipt is kept (accelerator.audit.receipts).
    receipts: ReceiptWriter
    # The configured insurers, to link a submitted policy to the one it names.
    insurers: InsurerDirectory = field(default_factory=InsurerDirectory)
    # Counts the decisions given (not replays): accelerator_coverage_decisions_total.
    metrics: Metrics = NO_METRICS
    # Single checks arriving together share one read (coverage.together).
    _together: DecidedTogether[Decided | InvalidInput] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        together = DecidedTogether(
            self.decide_many, most_in_flight=_READS_IN_FLIGHT, tracing=self.db.tracing
        )
        object.__setattr__(self, "_together", together)  # a frozen dataclass's own part

    def _version_for(self, claim: CoverageCheckRequest) -> RuleSetVersion:
        problems: list[FieldError] = []
        if claim.product_category not in self.taxonomy:
            problems.append(
                FieldError(
                    "product_category",
                    "unknown_category",
                    f"Unknown product category {claim.product_category!r}.",
                    self.taxonomy.suggest(claim.product_category),
                )
            )
        try:
            version = rule_set_for_incident(self.rulebook, claim.marketplace, claim.incident_at)
        except UnknownMarketplaceError as exc:
            problems.append(FieldError("marketplace", "unknown_marketplace", str(exc), exc.known))
        except NoRuleSetVersionError as exc:
            problems.append(FieldError("incident_at", "no_rule_set_in_force", str(exc)))
        if problems:
            raise InvalidInput(problems)
        return version

    def _unknown_categories(self, paths: Sequence[str]) -> list[FieldError]:
        return [
            FieldError(
                f"covered_categories[{index}]",
                "unknown_category",
                f"Unknown product category {path!r}.",
                self.taxonomy.suggest(path),
            )
            for index, path in enumerate(paths)
            if path not in self.taxonomy
        ]

    def _decide(
        self,
        claim: CoverageCheckRequest,
        version: RuleSetVersion,
        held: SellerPolicies,
        legal_name: str | None,
        evaluated_at: datetime,
        read_as_of: datetime | None,
    ) -> Decided:
        """Decide one claim under ``version`` (:meth:`_version_for` the claim) on the seller's
        policies as known at its ``known_at``, else at ``read_as_of``, else now."""
        known_at = claim.known_at or read_as_of
        candidates = [
            (policy_id, source, derive_state(events, known_at=known_at))
            for policy_id, (source, events) in sorted(held.items())
        ]
        # ``version`` is the one rule_set_for_incident gave for this claim (_version_for).
        decision = decide_checked(
            claim, candidates, version, legal_name=legal_name, evaluated_at=evaluated_at
        )
        relied_on: list[str] = []
        if decision.policy is not None:
            _, source, state = next(c for c in candidates if c[0] == decision.policy.id)
            if state is not None:
                relied_on = [event.event_id for event in state.events]
                if decision.covered:
                    flags = recorded_after_incident(
                        decision.policy.id, source, state, claim.incident_at
                    )
                    decision = msgspec.structs.replace(decision, flags=flags)
        considered = sorted(
            event.event_id
            for _, events in held.values()
            for event in events
            if known_at is None or event.recorded_at <= known_at
        )
        return Decided(decision, relied_on, considered)

    async def decide_many(
        self,
        claims: Sequence[CoverageCheckRequest],
        now: datetime | None = None,
        *,
        read_as_of: datetime | None = None,
    ) -> list[Decided | InvalidInput]:
        """Decide each claim (same order) on what the registry holds now, recording nothing;
        a claim that cannot be decided gets the InvalidInput naming its fields.
        ``read_as_of`` reads the registry as known at that instant for the claims that name
        no ``known_at`` of their own, leaving the claims as they were asked (a replay)."""
        evaluated_at = now or datetime.now(UTC)
        seller_ids = {c.seller_id for c in claims}
        policies, names = await repository.sellers_with_events(self.db.lookups, seller_ids)
        # The rule set of a marketplace, incident and category is looked up once a batch (the
        # incident's local date in the marketplace's zone is the costly part): a claims engine
        # sends many claims of one incident instant or one category.
        versions: dict[tuple[str, datetime, str], RuleSetVersion | tuple[FieldError, ...]] = {}
        results: list[Decided | InvalidInput] = []
        for claim in claims:
            key = (claim.marketplace, claim.incident_at, claim.product_category)
            version = versions.get(key)
            if version is None:
                try:
                    version = versions[key] = self._version_for(claim)
                except InvalidInput as error:
                    version = versions[key] = error.errors
            if isinstance(version, tuple):
                results.append(InvalidInput(version))
                continue
            held = policies.get(claim.seller_id, {})
            name = names.get(claim.seller_id)
            results.append(self._decide(claim, version, held, name, evaluated_at, read_as_of))
        return results

    async def check_many(
        self, claims: Sequence[CoverageCheckRequest], now: datetime | None = None
    ) -> list[CoverageDecision | InvalidInput]:
        """Decide each claim (same order) and keep each decision's receipt, answering only once
        the receipts are committed; a claim that cannot be decided gets the InvalidInput
        naming its fields (and no receipt)."""
        return await self._keep(claims, await self.decide_many(claims, now))

    async def decide(self, claim: CoverageCheckRequest) -> Decided | InvalidInput:
        """One claim decided on what the registry holds now, recording nothing, on a read it
        shares with the single checks arriving at the same time (coverage.together)."""
        return await self._together.decide(claim)

    async def check(self, claim: CoverageCheckRequest) -> CoverageDecision:
        """One claim decided (:meth:`decide`) and its receipt kept; InvalidInput raised."""
        [result] = await self._keep([claim], [await self.decide(claim)])
        if isinstance(result, InvalidInput):
            raise result
        return result

    async def _keep(
        self, claims: Sequence[CoverageCheckRequest], decided: Sequence[Decided | InvalidInput]
    ) -> list[CoverageDecision | InvalidInput]:
        """The decisions of ``claims`` as answered, once each one's receipt is committed."""
        results: list[CoverageDecision | InvalidInput] = []
        receipts: list[ReceiptContent] = []
        ids = iter(new_receipt_ids(len(claims)))
        for claim, outcome in zip(claims, decided, strict=True):
            if isinstance(outcome, InvalidInput):
                results.append(outcome)
                continue
            receipt = outcome.receipt(claim, next(ids))
            receipts.append(receipt)
            results.append(receipt.decision)
        await self.receipts.write(receipts)
        self.metrics.decisions([receipt.decision for receipt in receipts])
        return results

    def submission_problems(
        self, certificate: CertificateSubmission, version: RuleSetVersion
    ) -> list[FieldError]:
        """What keeps a submission out of the registry under ``version``: amounts in another
        currency, categories outside the taxonomy, a period that ends before it starts or lies
        out of bounds. (Gaps against the rules do not: those are recorded with the policy.)"""
        problems = _certificate_problems(certificate, version.currency)
        problems += self._unknown_categories(certificate.covered_categories)
        if certificate.expiry_date <= certificate.effective_date:
            problems.append(
                FieldError(
                    "expiry_date",
                    "expiry_before_effective",
                    "The expiry date must be after the effective date.",
                )
            )
        else:
            problems += _period_problems(certificate, version.reference_timezone)
        return problems

    async def submit(
        self, principal: Principal, seller_id: str, certificate: CertificateSubmission
    ) -> PolicyDocument:
        """Record a policy bought elsewhere as ``pending_verification``, with its gaps, linked
        to the configured insurer it names (coverage.linking).

        The seller's own policy submitted again is a conflict naming it. One sharing its insurer
        and number with another seller's is accepted like any other and waits for review: the
        answer says nothing about the other policy, and that one is never blocked by it."""
        ensure_acts_for(principal, seller_id)
        now = datetime.now(UTC)
        async with self.db.writing() as session:
            seller = await sellers.seller(session, seller_id)
            if seller is None:
                raise NotFound("seller", f"Seller {seller_id!r} has no profile yet.")
            version = self.rulebook.version_at(seller.marketplace, now.date())
            if problems := self.submission_problems(certificate, version):
                raise InvalidInput(problems)
            key = insurer_key(certificate.insurer_name)
            await repository.hold_number(session, key, certificate.policy_number)
            duplicate = await repository.sellers_policy_id(
                session, seller_id, key, certificate.policy_number
            )
            if duplicate is not None:
                raise Conflict(
                    "policy_already_registered",
                    "This policy is already in the registry",
                    f"Your policy {certificate.policy_number} of {certificate.insurer_name} "
                    f"is {duplicate}.",
                )
            terms = submitted_terms(certificate, version.reference_timezone)
            policy = await repository.create_policy(
                session,
                seller_id=seller_id,
                terms=terms,
                source=PolicySource.SUBMITTED,
                recorded_at=now,
                event_id=f"submitted.{uuid.uuid4()}",
                provider_id=self.insurers.provider_for(certificate.insurer_name),
            )
            return await policy_document(session, policy.id, self.rulebook, now)

    async def review(
        self,
        principal: Principal,
        policy_id: str,
        *,
        verified: bool,
        reason: str,
        event_id: str | None = None,
    ) -> PolicyDocument:
        """An admin verifies or rejects a submitted policy; a rejection needs a reason."""
        if not verified and not reason:
            raise InvalidInput(
                [FieldError("reason", "required", "Say why the policy is rejected.")],
                "A rejection needs a reason.",
            )
        now = datetime.now(UTC)
        async with self.db.writing() as session:
            policy = await repository.policy(session, policy_id)
            if policy is None:
                raise NotFound("policy", f"No policy {policy_id!r}.")
            await repository.add_event(
                session,
                policy,
                event_id=event_id or f"review.{uuid.uuid4()}",
                kind=EventKind.VERIFIED if verified else EventKind.VERIFICATION_REJECTED,
                effective_at=now,
                recorded_at=now,
                data={"reason": reason, "recorded_by": recorded_by(principal)},
            )
            await session.flush()
            return await policy_document(session, policy.id, self.rulebook, now)

    async def document(self, principal: Principal, policy_id: str) -> PolicyDocument:
        """The policy with its history; a seller key sees only its own seller's policies (any
        other answers as if it did not exist)."""
        async with self.db.reading() as session:
            document = await policy_document(session, policy_id, self.rulebook, datetime.now(UTC))
        if not principal.may_read_seller(document.seller_id):
            raise NotFound("policy", f"No policy {policy_id!r}.")
        return document

    async def seller_policies(
        self, principal: Principal, seller_id: str, *, limit: int, offset: int
    ) -> list[PolicyDocument]:
        """A page of the seller's policies, oldest first: the claims role reads any seller's,
        other keys only a seller they may act for."""
        if principal.role is not Role.CLAIMS:
            ensure_acts_for(principal, seller_id)
        now = datetime.now(UTC)
        async with self.db.reading() as session:
            ids = await repository.seller_policy_ids(session, seller_id, limit=limit, offset=offset)
            return [await policy_document(session, pid, self.rulebook, now) for pid in ids]


def submitted_terms(certificate: CertificateSubmission, timezone: str) -> PolicyTerms:
    """The terms a submitted certificate states, its dates made instants (00:01 in the
    marketplace's ``timezone``); the period must be valid (``submission_problems``)."""
    start, end = policy_period_from_dates(
        certificate.effective_date, certificate.expiry_date, timezone
    )
    return PolicyTerms(
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


def _certificate_problems(certificate: CertificateSubmission, currency: str) -> list[FieldError]:
    money_fields = {
        "each_occurrence": certificate.each_occurrence,
        "general_aggregate": certificate.general_aggregate,
        "products_completed_operations_aggregate": (
            certificate.products_completed_operations_aggregate
        ),
        "deductible": certificate.deductible,
    }
    problems = [
        FieldError(
            f"{name}.currency",
            "currency_mismatch",
            f"Amounts must be in {currency}, the marketplace's currency.",
        )
        for name, value in money_fields.items()
        if value.currency != currency
    ]
    return problems


def _period_problems(certificate: CertificateSubmission, timezone: str) -> list[FieldError]:
    """The dates are within bounds, but the instants they stand for (00:01 in the
    marketplace's zone) must be too: 1970-01-01 in Berlin begins in 1969 in UTC."""
    start, end = policy_period_from_dates(
        certificate.effective_date, certificate.expiry_date, timezone
    )
    return [
        FieldError(
            name,
            "out_of_range",
            f"The policy's period must lie between {EARLIEST_INSTANT.isoformat()} and "
            f"{LATEST_INSTANT.isoformat()}; 00:01 on this date in {timezone} does not.",
        )
        for name, at in (("effective_date", start), ("expiry_date", end))
        if not EARLIEST_INSTANT <= at <= LATEST_INSTANT
    ]
