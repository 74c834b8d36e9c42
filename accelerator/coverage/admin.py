"""What operators do to the registry: record any lifecycle fact about any policy, decide which
insurer's events reach a policy, and work through the policies waiting for review.

Every fact goes into the policy's one event log, with the reason, the evidence and the admin key
that recorded it, so the state and any past coverage decision are derived from it exactly as
from an insurer's events (``coverage.state``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from accelerator.auth.principal import Principal
from accelerator.coverage import repository
from accelerator.coverage.linking import InsurerDirectory
from accelerator.coverage.models import PolicyRow
from accelerator.coverage.service import policy_document, recorded_by
from accelerator.coverage.state import EventKind
from accelerator.errors import Conflict, FieldError, InvalidInput, NotFound
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.rulesets.loader import RuleBook
from schemas import (
    PolicyAdminView,
    PolicyLinkBody,
    PolicySource,
    RecordCancellation,
    RecordedPolicyEvent,
    RecordEndorsement,
    RecordLapse,
    RecordReinstatement,
    RecordRejection,
    RecordRenewal,
    RecordVerification,
)


def _event_fields(
    policy: PolicyRow, fact: RecordedPolicyEvent, now: datetime
) -> tuple[EventKind, datetime, dict[str, Any]]:
    """The kind, effective instant and kind-specific data of an operator's fact; InvalidInput
    naming the field when it cannot be a fact about this policy."""
    match fact:
        case RecordCancellation(effective_at=at):
            return EventKind.CANCELLED, at, {}
        case RecordReinstatement(effective_at=at):
            return EventKind.REINSTATED, at, {}
        case RecordLapse(effective_at=at):
            return EventKind.LAPSED, at, {}
        case RecordEndorsement(effective_at=at, policy=terms):
            if terms.policy_number != policy.policy_number:
                raise InvalidInput(
                    [
                        FieldError(
                            "policy.policy_number",
                            "policy_number_mismatch",
                            f"An endorsement keeps the policy's number ({policy.policy_number}).",
                        )
                    ]
                )
            return EventKind.ENDORSED, at, {"terms": msgspec.to_builtins(terms)}
        case RecordRenewal(effective_at=at, expires_at=expires):
            if expires <= at:
                raise InvalidInput(
                    [
                        FieldError(
                            "expires_at",
                            "expiry_before_effective",
                            "A renewal must run until after it takes effect.",
                        )
                    ]
                )
            return EventKind.RENEWED, at, {"expires_at": expires.isoformat()}
        case RecordVerification():
            return EventKind.VERIFIED, now, {}
        case RecordRejection():
            return EventKind.VERIFICATION_REJECTED, now, {}
    raise AssertionError(f"unhandled fact {type(fact).__name__}")  # pragma: no cover


@dataclass(frozen=True)
class PolicyAdminService:
    db: Database
    rulebook: RuleBook
    insurers: InsurerDirectory

    async def _policy(self, session: ReadSession | WriteSession, policy_id: str) -> PolicyRow:
        policy = await repository.policy(session, policy_id)
        if policy is None:
            raise NotFound("policy", f"No policy {policy_id!r}.")
        return policy

    async def _view(
        self, session: ReadSession | WriteSession, policy: PolicyRow, now: datetime
    ) -> PolicyAdminView:
        return PolicyAdminView(
            policy=await policy_document(session, policy.id, self.rulebook, now, operator=True),
            provider_id=policy.provider_id,
            review_reason=policy.review_reason,
            namesakes=[other.id for other in await repository.namesakes(session, policy)],
        )

    async def link_submissions(self) -> int:
        """Link submitted policies to the configured insurers they name (at start-up: a partner
        configured since, or policies submitted before links existed); how many."""
        async with self.db.writing() as session:
            return await repository.link_submissions(session, self.insurers)

    async def view(self, policy_id: str) -> PolicyAdminView:
        async with self.db.reading() as session:
            policy = await self._policy(session, policy_id)
            return await self._view(session, policy, datetime.now(UTC))

    async def in_review(self, *, limit: int, offset: int) -> list[PolicyAdminView]:
        """A page of the policies waiting for review, oldest first."""
        now = datetime.now(UTC)
        async with self.db.reading() as session:
            rows = await repository.policies_in_review(session, limit=limit, offset=offset)
            return [await self._view(session, row, now) for row in rows]

    async def record(
        self, principal: Principal, policy_id: str, fact: RecordedPolicyEvent
    ) -> PolicyAdminView:
        """Append an operator's fact to the policy's event log."""
        now = datetime.now(UTC)
        async with self.db.writing() as session:
            policy = await self._policy(session, policy_id)
            kind, effective_at, data = _event_fields(policy, fact, now)
            await repository.add_event(
                session,
                policy,
                event_id=f"admin.{uuid.uuid4()}",
                kind=kind,
                effective_at=effective_at,
                recorded_at=now,
                data={
                    **data,
                    "reason": fact.reason,
                    "evidence_reference": fact.evidence_reference,
                    "recorded_by": recorded_by(principal),
                },
            )
            await session.flush()
            return await self._view(session, policy, now)

    async def link(
        self, principal: Principal, policy_id: str, body: PolicyLinkBody
    ) -> PolicyAdminView:
        """Decide whose insurer events reach the policy; this settles its review."""
        if body.provider_id is not None and body.provider_id not in self.insurers.provider_ids:
            raise InvalidInput(
                [
                    FieldError(
                        "provider_id",
                        "unknown_provider",
                        f"No insurer {body.provider_id!r} is configured.",
                        sorted(self.insurers.provider_ids),
                    )
                ]
            )
        now = datetime.now(UTC)
        async with self.db.writing() as session:
            policy = await self._policy(session, policy_id)
            if policy.source == PolicySource.BOUND:
                raise Conflict(
                    "policy_bound_here",
                    "A policy bound here keeps its insurer",
                    "Its insurer's events reach it by the bind; only a submitted policy is "
                    "linked or unlinked.",
                )
            previous = policy.provider_id
            repository.set_link(session, policy, body.provider_id)
            await repository.add_event(
                session,
                policy,
                event_id=f"admin.{uuid.uuid4()}",
                kind=EventKind.LINKED if body.provider_id is not None else EventKind.UNLINKED,
                effective_at=now,
                recorded_at=now,
                data={
                    "provider_id": body.provider_id or previous,
                    "reason": body.reason,
                    "recorded_by": recorded_by(principal),
                },
            )
            await session.flush()
            return await self._view(session, policy, now)
