"""The claims decision (DESIGN §3.3): was the seller validly covered for this claim?

Pure: the claim, the seller's policies (already derived as known at the requested instant), the
rule-set version in force at the incident and the seller's legal name in; a decision with every
reason out. The caller picks the version with :func:`rule_set_for_incident`.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, NamedTuple

import msgspec

from accelerator.compliance.evaluate import evaluate_cover, terms_of_policy
from accelerator.compliance.text import amount
from accelerator.coverage.state import EventKind, PolicyState
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.model import RuleSetVersion
from accelerator.rulesets.zones import local_date
from schemas import (
    CoverageCheckRequest,
    CoverageDecision,
    Decision,
    PolicyRef,
    PolicySource,
    PolicyTerms,
    PolicyVerification,
    Reason,
    ReasonCode,
    RuleSetRef,
)

#: The order reasons are reported in: first whether there was cover at all, then why the cover
#: there was does not qualify.
REASON_ORDER: Final[tuple[ReasonCode, ...]] = (
    "no_policy",
    "policy_not_in_force",
    "policy_cancelled",
    "policy_unverified",
    "currency_mismatch",
    "category_not_covered",
    "territory_not_covered",
    "limit_below_requirement",
    "deductible_above_maximum",
    "additional_insured_missing",
    "named_insured_mismatch",
    "insurer_rating_below_minimum",
    "claims_made_not_permitted",
    "policy_form_not_accepted",
    "notice_period_too_short",
)


class PolicyCandidate(NamedTuple):
    """A seller's policy as the registry holds it: ``source`` says whether it was bought
    through us or is a certificate from the seller; ``state`` is None when nothing of it was
    known at the requested instant."""

    policy_id: str
    source: PolicySource
    state: PolicyState | None


# Module constants for the comparisons every policy of every check makes: on Python 3.11
# reading a member off its enum class costs more than the comparison itself.
_BOUND: Final = PolicySource.BOUND
_VERIFIED: Final = PolicyVerification.VERIFIED
_REJECTED: Final = PolicyVerification.REJECTED


class _Assessment(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # as PolicyState
    policy_id: str
    terms: PolicyTerms
    reasons: tuple[Reason, ...]


def incident_date(incident_at: datetime, timezone: str) -> date:
    """The calendar date of ``incident_at`` in the marketplace's reference time zone."""
    return local_date(incident_at, timezone)


def rule_set_for_incident(
    book: RuleBook, marketplace: str, incident_at: datetime
) -> RuleSetVersion:
    """The rule-set version in force on the incident's local date in the marketplace's
    reference time zone. Raises UnknownMarketplaceError or NoRuleSetVersionError."""
    timezone = book.timezone(marketplace)
    return book.version_at(marketplace, incident_date(incident_at, timezone))


def is_verified(source: PolicySource, state: PolicyState) -> bool:
    """A policy bound through us is verified by the insurer's bind confirmation unless a
    verification was rejected; a submitted one needs a ``verified`` event."""
    if source == _BOUND:
        return state.verification != _REJECTED
    return state.verification == _VERIFIED


def decide(
    claim: CoverageCheckRequest,
    policies: Sequence[tuple[str, PolicySource, PolicyState | None]],
    version: RuleSetVersion,
    *,
    legal_name: str | None,
    evaluated_at: datetime,
) -> CoverageDecision:
    """Decide one claim against the seller's ``policies``.

    Promises: ``exempt`` when a qualifying policy (in force at the incident, verified, covering
    the category and territory, meeting ``version``) exists and the amount is at most the
    small-claim threshold; ``tender_to_insurer`` naming that policy when above; otherwise
    ``not_exempt`` with every reason of every policy, one per code, in :data:`REASON_ORDER`,
    naming the policy closest to qualifying (fewest reasons, then policy id). Among qualifying
    policies the highest per-occurrence limit wins, then the lowest policy id. A claim in
    another currency than the rule set's is never exempt (``currency_mismatch``). The result
    depends only on the arguments, never on the order of ``policies``.

    Raises ValueError when ``version`` is not the claim marketplace's version in force on the
    incident's local date.
    """
    _check_version(claim, version)
    return decide_checked(
        claim, policies, version, legal_name=legal_name, evaluated_at=evaluated_at
    )


def decide_checked(
    claim: CoverageCheckRequest,
    policies: Sequence[tuple[str, PolicySource, PolicyState | None]],
    version: RuleSetVersion,
    *,
    legal_name: str | None,
    evaluated_at: datetime,
) -> CoverageDecision:
    """:func:`decide` without checking ``version`` again: for a caller that took it from
    :func:`rule_set_for_incident` for this claim's marketplace and incident, once for all the
    claims of a batch that share them (the check is the incident's local date in the
    marketplace's zone, about as costly as the lookup itself)."""
    known = [(pid, source, state) for pid, source, state in policies if state is not None]
    # A policy out of force or unverified at the incident cannot qualify, and the reasons of
    # policies that do not qualify are reported only when none does: so those are assessed
    # in full only then (most sellers hold last year's expired policy beside this year's).
    contenders = (
        _assess(policy_id, source, state, claim, version, legal_name)
        for policy_id, source, state in known
        if _may_qualify(source, state, claim.incident_at)
    )
    qualifying = sorted(
        (a for a in contenders if not a.reasons),
        key=lambda a: (-a.terms.per_occurrence_limit.amount, a.policy_id),
    )
    claim_reasons = _claim_reasons(claim, version)
    if qualifying:
        winner = qualifying[0]
        threshold = Decimal(version.small_claims.threshold)
        if claim_reasons:
            return _decision(
                claim, version, evaluated_at, "not_exempt", True, winner, claim_reasons
            )
        if claim.claim_amount.amount <= threshold:
            return _decision(claim, version, evaluated_at, "exempt", True, winner, [])
        return _decision(claim, version, evaluated_at, "tender_to_insurer", True, winner, [])
    assessments = [
        _assess(policy_id, source, state, claim, version, legal_name)
        for policy_id, source, state in known
    ]
    if not assessments:
        none = Reason(
            code="no_policy",
            message=_no_policy_message(claim),
        )
        return _decision(
            claim, version, evaluated_at, "not_exempt", False, None, [none, *claim_reasons]
        )
    closest = sorted(assessments, key=lambda a: (len(a.reasons), a.policy_id))
    first_by_code: dict[str, Reason] = {}
    for reason in [*claim_reasons, *(r for a in closest for r in a.reasons)]:
        first_by_code.setdefault(reason.code, reason)
    reasons = [first_by_code[code] for code in REASON_ORDER if code in first_by_code]
    return _decision(claim, version, evaluated_at, "not_exempt", False, closest[0], reasons)


def _check_version(claim: CoverageCheckRequest, version: RuleSetVersion) -> None:
    if version.marketplace != claim.marketplace:
        raise ValueError(
            f"rule set {version.marketplace} {version.version} is not for marketplace "
            f"{claim.marketplace}"
        )
    day = incident_date(claim.incident_at, version.reference_timezone)
    if not version.in_force_on(day):
        raise ValueError(
            f"rule set {version.marketplace} {version.version} is not in force on {day.isoformat()}"
        )


def _claim_reasons(claim: CoverageCheckRequest, version: RuleSetVersion) -> list[Reason]:
    if claim.claim_amount.currency == version.currency:
        return []
    return [
        Reason(
            code="currency_mismatch",
            message=(
                f"The claim is in {claim.claim_amount.currency}, but the {version.marketplace} "
                f"small-claim threshold is {amount(version.small_claims.threshold)} "
                f"{version.currency}; amounts are not converted."
            ),
        )
    ]


def _may_qualify(source: PolicySource, state: PolicyState, incident: datetime) -> bool:
    in_force, _ = state.in_force_at(incident)
    return in_force and is_verified(source, state)


def _assess(
    policy_id: str,
    source: PolicySource,
    state: PolicyState,
    claim: CoverageCheckRequest,
    version: RuleSetVersion,
    legal_name: str | None,
) -> _Assessment:
    incident = claim.incident_at
    terms = state.terms_at(incident)
    label = f"Policy {terms.policy_number} ({terms.insurer_name})"
    reasons: list[Reason] = []
    in_force, why_not = state.in_force_at(incident)
    if not in_force and why_not == "policy_cancelled":
        change = state.cancelled_by(incident)
        lapsed = change is not None and change.kind == EventKind.LAPSED
        verb = "lapsed" if lapsed else "was cancelled"
        since = _instant(change.effective_at) if change is not None else "before the incident"
        reasons.append(
            Reason(code="policy_cancelled", message=f"{label} {verb} with effect from {since}.")
        )
    elif not in_force:
        period = state.period
        reasons.append(
            Reason(
                code="policy_not_in_force",
                message=(
                    f"{label} was not in force at {_instant(incident)}; it covers "
                    f"{_instant(period.start)} up to, not including, {_instant(period.end)}."
                ),
            )
        )
    if not is_verified(source, state):
        if state.verification == _REJECTED:
            detail = (
                f"failed verification: {state.rejection_reason}"
                if state.rejection_reason
                else "failed verification"
            )
        else:
            detail = "has not been verified by the insurer or an administrator yet"
        reasons.append(Reason(code="policy_unverified", message=f"{label} {detail}."))
    gaps = evaluate_cover(
        terms_of_policy(terms), version, categories=[claim.product_category], legal_name=legal_name
    )
    reasons.extend(
        Reason(code=gap.code, message=f"{label}: {gap.message}")
        for gap in gaps
        if gap.code != "remaining_term_too_short"
    )
    return _Assessment(policy_id=policy_id, terms=terms, reasons=tuple(reasons))


def _no_policy_message(claim: CoverageCheckRequest) -> str:
    known = f" as known at {_instant(claim.known_at)}" if claim.known_at is not None else ""
    return f"Seller {claim.seller_id} has no policy in the {claim.marketplace} registry{known}."


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _decision(
    claim: CoverageCheckRequest,
    version: RuleSetVersion,
    evaluated_at: datetime,
    decision: Decision,
    covered: bool,
    policy: _Assessment | None,
    reasons: list[Reason],
) -> CoverageDecision:
    ref = (
        PolicyRef(
            id=policy.policy_id,
            insurer=policy.terms.insurer_name,
            number=policy.terms.policy_number,
        )
        if policy is not None
        else None
    )
    return CoverageDecision(
        decision=decision,
        exempt_from_recovery=decision == "exempt",
        covered=covered,
        policy=ref,
        reasons=reasons,
        rule_set=RuleSetRef(
            marketplace=version.marketplace,
            version=version.version,
            overridden=list(version.overridden),
        ),
        incident_at=claim.incident_at,
        known_at=claim.known_at,
        evaluated_at=evaluated_at,
    )
