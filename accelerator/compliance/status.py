"""A seller's compliance status: the requirement now, and whether a qualifying policy meets it.

Pure: the seller's requirement (re-evaluated from its latest facts by the caller, since a
requirement can start, or a deadline pass, without a new profile), its policies, the rule-set
version in force today in the marketplace's reference time zone (the policies are judged by
:func:`~accelerator.compliance.standing.assess_standing` against it, like a claim for an
incident now), what it sells and the instant in; the status out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from accelerator.compliance.history import about_cover, event_detail, summarise
from accelerator.compliance.standing import HeldPolicy, Standing, assess_standing, days_until
from accelerator.coverage.decision import PolicyCandidate, incident_date
from accelerator.rulesets.model import RuleSetVersion
from schemas import (
    ComplianceGap,
    ComplianceHistoryEntry,
    ComplianceStatus,
    PolicyStanding,
    PolicyVerification,
    QualifyingPolicy,
    Requirement,
    RuleSetRef,
)


def compliance_status(
    seller_id: str,
    requirement: Requirement,
    version: RuleSetVersion,
    policies: Sequence[PolicyCandidate],
    *,
    categories: Sequence[str],
    legal_name: str,
    now: datetime,
) -> ComplianceStatus:
    """The seller's status as of ``now``, judged against ``version``."""
    timezone = version.reference_timezone
    standing = assess_standing(
        policies, version, categories=categories, legal_name=legal_name, at=now
    )
    qualifying = [_qualifying(held, now, timezone) for held in standing.qualifying]
    # Deadlines and expiries are counted in the marketplace's days, like policy dates.
    today = incident_date(now, timezone)
    days_left = (requirement.comply_by - today).days if requirement.comply_by else None
    return ComplianceStatus(
        seller_id=seller_id,
        as_of=now,
        requirement=requirement,
        compliant_now=not requirement.required or bool(qualifying),
        days_until_deadline=days_left,
        qualifying_policy=qualifying[0] if qualifying else None,
        qualifying_policies=qualifying,
        gaps=_gaps(standing, required=requirement.required),
        expiring_soon=_expiring_soon(standing, version),
        history=_history(standing, timezone),
        policies=[_standing_of(held, standing) for held in _by_term(standing.held)],
        rule_set=RuleSetRef(
            marketplace=version.marketplace,
            version=version.version,
            overridden=list(version.overridden),
        ),
    )


def _qualifying(held: HeldPolicy, now: datetime, timezone: str) -> QualifyingPolicy:
    terms = held.terms
    return QualifyingPolicy(
        policy_id=held.policy_id,
        insurer_name=terms.insurer_name,
        policy_number=terms.policy_number,
        expires_at=held.ends_at,
        days_until_expiry=days_until(held.ends_at, now, timezone),
        insurer_rating=terms.insurer_rating,
        source=held.source,
        effective_at=held.term.start,
        cancellation_effective_at=held.cancellation_at,
        per_occurrence_limit=terms.per_occurrence_limit,
        aggregate_limit=terms.aggregate_limit,
        deductible=terms.deductible,
        covered_categories=list(terms.covered_categories),
        categories=list(held.categories),
    )


def _gaps(standing: Standing, *, required: bool) -> list[ComplianceGap]:
    if standing.qualifying:
        return []
    if not standing.held:
        if not required:
            return []
        return [ComplianceGap(code="no_policy", message="No policy is on record for the seller.")]
    return [gap for held in standing.explaining for gap in _policy_gaps(held)]


def _policy_gaps(held: HeldPolicy) -> list[ComplianceGap]:
    return [
        ComplianceGap(
            code=shortfall.code,
            message=shortfall.message,
            policy_id=held.policy_id,
            policy_number=held.terms.policy_number,
        )
        for shortfall in held.shortfalls
    ]


def _expiring_soon(standing: Standing, version: RuleSetVersion) -> bool:
    ends = standing.cover_ends_at
    if ends is None or standing.continues:
        return False
    left = days_until(ends, standing.at, version.reference_timezone)
    return left < version.proof.min_remaining_term_days


def _history(standing: Standing, timezone: str) -> list[ComplianceHistoryEntry]:
    entries: list[ComplianceHistoryEntry] = []
    for held in standing.qualifying or standing.explaining:
        # As summarise words them: the facts about cover, not the linking bookkeeping (a
        # linked policy's status failed here, zipping more events than sentences).
        events = [event for event in held.state.events if about_cover(event)]
        for event, summary in zip(
            events, summarise(events, source=held.source, timezone=timezone), strict=True
        ):
            entries.append(
                ComplianceHistoryEntry(
                    at=event.effective_at,
                    policy_id=held.policy_id,
                    event=event.kind,
                    detail=event_detail(event),
                    event_id=event.event_id,
                    kind=event.kind,
                    effective_at=event.effective_at,
                    recorded_at=event.recorded_at,
                    policy_number=held.terms.policy_number,
                    summary=summary,
                )
            )
    entries.sort(key=lambda e: (e.effective_at, e.recorded_at, e.event_id))
    return entries


def _by_term(held: Sequence[HeldPolicy]) -> list[HeldPolicy]:
    """Oldest term first, as a seller reads a list of policies."""
    return sorted(held, key=lambda h: (h.term.start, h.policy_id))


def _standing_of(held: HeldPolicy, standing: Standing) -> PolicyStanding:
    qualifies = any(q.policy_id == held.policy_id for q in standing.qualifying)
    return PolicyStanding(
        policy_id=held.policy_id,
        insurer_name=held.terms.insurer_name,
        policy_number=held.terms.policy_number,
        source=held.source,
        verification=PolicyVerification.VERIFIED if held.verified else held.state.verification,
        in_force_now=held.in_force,
        qualifies=qualifies,
        effective_at=held.term.start,
        expires_at=held.ends_at,
        # A policy's category gap is not a gap when others cover the rest.
        gaps=[] if qualifies else _policy_gaps(held),
    )
