"""Certificates out (the PDF and its live link) and in (an upload read into a submission)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from accelerator.auth.principal import Principal, ensure_acts_for
from accelerator.certificates import repository as links
from accelerator.certificates.pdf import CertificateContent, render_certificate
from accelerator.certificates.reading import draft_of, read_pdf
from accelerator.certificates.status import certificate_status, verification_of
from accelerator.compliance.evaluate import evaluate_cover, evaluate_submission, terms_of_policy
from accelerator.compliance.fixes import fix_for
from accelerator.coverage import repository as registry
from accelerator.coverage.events import to_event
from accelerator.coverage.service import CoverageService, submitted_terms
from accelerator.coverage.state import PolicyState, derive_state
from accelerator.errors import Conflict, NotFound
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.infra.errors import decode_error_field
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.zones import local_date
from accelerator.sellers import repository as sellers
from schemas import (
    CertificateGap,
    CertificateReading,
    CertificateStatus,
    CertificateSubmission,
    MissingField,
    PolicySource,
    PolicyVerification,
    RuleSetRef,
)


@dataclass(frozen=True)
class _Policy:
    source: PolicySource
    seller_id: str
    state: PolicyState
    timezone: str


@dataclass(frozen=True)
class CertificateService:
    db: Database
    rulebook: RuleBook
    coverage: CoverageService
    #: The service's public address, which the live link on each certificate starts with.
    public_url: str

    async def _policy(
        self, session: ReadSession | WriteSession, policy_id: str, now: datetime
    ) -> _Policy | None:
        row = await registry.policy(session, policy_id)
        if row is None:
            return None
        events = await registry.policy_events(session, policy_id)
        state = derive_state(
            to_event(e.event_id, e.kind, e.effective_at, e.recorded_at, e.data) for e in events
        )
        if state is None:
            return None
        seller = await sellers.seller(session, row.seller_id)
        timezone = "UTC"
        if seller is not None:
            timezone = self.rulebook.version_at(seller.marketplace, now.date()).reference_timezone
        return _Policy(PolicySource(row.source), row.seller_id, state, timezone)

    def verification_url(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/verify/{token}"

    async def certificate(
        self, principal: Principal, policy_id: str, now: datetime | None = None
    ) -> bytes:
        """The policy's certificate as a PDF, with its live link (made on the first one).

        A seller key gets only its own seller's (any other answers as if there were none, as
        the policy itself does); only a bound or verified policy has one (409 otherwise)."""
        now = now or datetime.now(UTC)
        async with self.db.writing() as session:
            found = await self._policy(session, policy_id, now)
            if found is None or not principal.may_read_seller(found.seller_id):
                raise NotFound("policy", f"No policy {policy_id!r}.")
            if verification_of(found.source, found.state) != PolicyVerification.VERIFIED:
                raise Conflict(
                    "certificate_unavailable",
                    "The policy has no certificate yet",
                    "A certificate is issued for a policy bought here or verified by the "
                    "insurer or an operator; this one is not verified.",
                )
            token = await links.link_token(session, policy_id, now)
        state, timezone = found.state, found.timezone
        terms = state.terms_at(now)
        return render_certificate(
            CertificateContent(
                insurer_name=terms.insurer_name,
                insurer_rating=terms.insurer_rating,
                policy_number=terms.policy_number,
                named_insured=terms.named_insured,
                policy_form=terms.policy_form,
                coverage_type=terms.coverage_type,
                effective_date=local_date(state.period.start, timezone),
                expiry_date=local_date(state.period.end, timezone),
                timezone=timezone,
                per_occurrence=terms.per_occurrence_limit,
                aggregate=terms.aggregate_limit,
                products_completed_operations=terms.products_completed_operations_aggregate,
                deductible=terms.deductible,
                additional_insureds=tuple(terms.additional_insureds),
                territories=tuple(terms.territories),
                covered_categories=tuple(terms.covered_categories),
                cancellation_notice_days=terms.cancellation_notice_days,
                issued_at=now,
                verification_url=self.verification_url(token),
            )
        )

    async def status(self, token: str, now: datetime | None = None) -> CertificateStatus:
        """What the live link of ``token`` shows now; NotFound for an unknown or revoked one."""
        now = now or datetime.now(UTC)
        async with self.db.reading() as session:
            policy_id = await links.policy_of_token(session, token)
            found = None if policy_id is None else await self._policy(session, policy_id, now)
        if found is None:
            raise NotFound(
                "certificate",
                "No certificate has this verification link (or it was withdrawn).",
            )
        return certificate_status(found.source, found.state, now, found.timezone)

    async def read_upload(
        self, principal: Principal, seller_id: str, data: bytes, now: datetime | None = None
    ) -> CertificateReading:
        """Read an uploaded certificate into a pre-filled submission with every gap against the
        seller's marketplace rules in force today. Stores nothing.

        Raises CertificateUnreadable for a file that is not a readable PDF with text."""
        ensure_acts_for(principal, seller_id)
        now = now or datetime.now(UTC)
        async with self.db.reading() as session:
            seller = await sellers.seller(session, seller_id)
        if seller is None:
            raise NotFound("seller", f"Seller {seller_id!r} has no profile yet.")
        version = self.rulebook.version_at(seller.marketplace, now.date())
        # Parsing a PDF is CPU work (up to 5 MB of it): off the event loop.
        raw = await asyncio.to_thread(read_pdf, data)
        draft, missing = draft_of(raw, version.currency)
        reading = CertificateReading(
            read_from=raw.read_from,
            draft=draft,
            missing=missing,
            rule_set=RuleSetRef(marketplace=version.marketplace, version=version.version),
        )
        if missing:
            return reading
        try:
            submission = msgspec.convert(
                msgspec.to_builtins(draft), CertificateSubmission, strict=False
            )
        except msgspec.ValidationError as exc:
            field, message = decode_error_field(str(exc))
            return msgspec.structs.replace(
                reading, missing=[MissingField(field=field, message=f"Not usable: {message}.")]
            )
        problems = self.coverage.submission_problems(submission, version)
        if problems:
            return msgspec.structs.replace(
                reading,
                missing=[MissingField(field=p.field, message=p.message) for p in problems],
            )
        cover = terms_of_policy(submitted_terms(submission, version.reference_timezone))
        found = evaluate_cover(
            cover, version, categories=submission.covered_categories, legal_name=seller.legal_name
        )
        found += evaluate_submission(cover, version, local_date(now, version.reference_timezone))
        gaps = [
            CertificateGap(
                code=gap.code,
                message=gap.message,
                rule=gap.rule,
                fix=fix_for(gap.code, version, seller.legal_name),
            )
            for gap in found
        ]
        return msgspec.structs.replace(reading, submission=submission, gaps=gaps)
