"""Responses of the seller endpoints: a stored profile version and the compliance status."""

from typing import Annotated

import msgspec
from msgspec import Meta

from schemas._bounds import Instant, Money
from schemas._policies import PolicySource, PolicyVerification
from schemas._sellers import Requirement, RiskProfile, RuleSetRef


class SellerProfileDocument(msgspec.Struct, frozen=True, kw_only=True):
    """One stored version of a seller's risk profile."""

    seller_id: str
    version: Annotated[int, Meta(ge=1)]
    created_at: Instant
    profile: RiskProfile


class ComplianceGap(msgspec.Struct, frozen=True, kw_only=True):
    """One reason the seller's cover falls short today.

    ``code`` is stable (``no_policy``, ``policy_not_in_force``, ``policy_cancelled``,
    ``policy_unverified`` or a rule-set gap code such as ``limit_below_requirement``); the
    message is for people. ``policy_id`` and ``policy_number`` name the policy it is about
    (none for ``no_policy``).
    """

    code: str
    message: str
    policy_id: str | None = None
    policy_number: str | None = None


class QualifyingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A policy that meets the marketplace requirement today.

    ``expires_at`` is when its cover ends as known today: the end of the current term
    (renewals included), or an earlier cancellation already on record, in which case
    ``cancellation_effective_at`` is that instant too. ``days_until_expiry`` counts calendar
    days from today to that date in the marketplace's reference time zone (0: it ends today).
    ``categories`` are the seller's product categories this policy counts for.
    """

    policy_id: str
    insurer_name: str
    policy_number: str
    expires_at: Instant
    days_until_expiry: int
    insurer_rating: str
    source: PolicySource
    effective_at: Instant
    cancellation_effective_at: Instant | None = None
    per_occurrence_limit: Money
    aggregate_limit: Money
    deductible: Money
    covered_categories: list[str]
    categories: list[str]


class PolicyStanding(msgspec.Struct, frozen=True, kw_only=True):
    """One of the seller's policies as it stands today, qualifying or not, with its gaps.

    ``effective_at``/``expires_at`` bound the term that matters today: the current one, else
    the next one, else the last one.
    """

    policy_id: str
    insurer_name: str
    policy_number: str
    source: PolicySource
    verification: PolicyVerification
    in_force_now: bool
    qualifies: bool
    effective_at: Instant
    expires_at: Instant
    gaps: list[ComplianceGap] = msgspec.field(default_factory=list)


class ComplianceHistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a policy the status is about.

    ``kind``, ``effective_at`` (when it took effect in the world), ``recorded_at`` (when the
    registry learned it) and ``summary`` (a sentence for people) describe it; ``at`` and
    ``event`` repeat ``effective_at`` and ``kind``, and ``detail`` is the bare reason or new
    expiry, for displays that want a short line.
    """

    at: Instant
    policy_id: str
    event: str
    detail: str = ""
    event_id: str
    kind: str
    effective_at: Instant
    recorded_at: Instant
    policy_number: str
    summary: str


class ComplianceStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the seller must be insured, by when, and whether it is (as of ``as_of``).

    ``compliant_now`` is true when insurance is not required or a qualifying policy is in
    force now. ``qualifying_policy`` is that policy; when the seller's categories are split
    across policies, ``qualifying_policies`` lists every policy needed and
    ``qualifying_policy`` is the one whose cover ends first. ``gaps`` say why there is no
    qualifying cover (empty when there is); ``policies`` lists every policy on record with its
    own gaps; ``history`` is the event log of the policies the status is about, oldest first.
    ``expiring_soon`` is true when qualifying cover ends in fewer days than the marketplace
    wants left on a proof of insurance (US: 60) and no other qualifying policy takes over then.
    ``rule_set`` is the version the policies were judged against (in force today).
    """

    seller_id: str
    as_of: Instant
    requirement: Requirement
    compliant_now: bool
    days_until_deadline: int | None = None
    qualifying_policy: QualifyingPolicy | None = None
    gaps: list[ComplianceGap] = msgspec.field(default_factory=list)
    expiring_soon: bool = False
    history: list[ComplianceHistoryEntry] = msgspec.field(default_factory=list)
    qualifying_policies: list[QualifyingPolicy] = msgspec.field(default_factory=list)
    policies: list[PolicyStanding] = msgspec.field(default_factory=list)
    rule_set: RuleSetRef | None = None


__all__ = [
    "ComplianceGap",
    "ComplianceHistoryEntry",
    "ComplianceStatus",
    "PolicyStanding",
    "QualifyingPolicy",
    "SellerProfileDocument",
]
