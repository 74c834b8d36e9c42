"""Policy documents, seller-submitted certificates, and bind calls."""

import enum
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas._compliance import Gap
from schemas._money import Money
from schemas._quotes import InsurerRating, PolicyForm, PolicyTerms
from schemas._sellers import CategoryPath, CountryCode

Instant = Annotated[datetime, Meta(tz=True)]


# How a policy entered the registry: bought through us, or a certificate the seller gave us.
# (No docstring: OpenAPI would publish it as the enum's description, a contract change.)
class PolicySource(enum.StrEnum):
    BOUND = "bound"
    SUBMITTED = "submitted"


# Whether the insurer (or an administrator) has confirmed a policy. (No docstring, as above.)
class PolicyVerification(enum.StrEnum):
    VERIFIED = "verified"
    PENDING_VERIFICATION = "pending_verification"
    REJECTED = "rejected"


class PolicyEventView(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a policy's event log, in the world's order: effective instant, then the
    insurer's own occurrence time and sequence (``occurred_at``, ``sequence``; for a fact we
    learned first hand the recording), then id. ``recorded_by`` says who told us:
    ``insurer:<provider id>``, ``admin:<key id>``, or empty for a bind or a seller's submission.
    """

    event_id: str
    kind: str
    effective_at: Instant
    recorded_at: Instant
    detail: str = ""
    occurred_at: Instant | None = None
    sequence: int | None = None
    reason: str = ""
    evidence_reference: str = ""
    recorded_by: str = ""


class PolicyDocument(msgspec.Struct, frozen=True, kw_only=True):
    """A policy in the registry: its current terms, state and whole event history."""

    id: str
    seller_id: str
    source: PolicySource
    verification: PolicyVerification
    in_force_now: bool
    terms: PolicyTerms
    gaps: list[Gap] = msgspec.field(default_factory=list)
    events: list[PolicyEventView] = msgspec.field(default_factory=list)


class BindBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /v1/offers/{offer_id}/bind``. A non-compliant offer binds only with
    ``acknowledge_gaps: true``."""

    acknowledge_gaps: bool = False


class BindResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``bound`` with the policy (201), or ``bind_pending`` until the insurer confirms (202)."""

    status: Literal["bound", "bind_pending"]
    offer_id: str
    quote_request_id: str
    policy: PolicyDocument | None = None
    bind_reference: str | None = None


class ReviewBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /v1/policies/{policy_id}/verify`` and ``/reject`` (admin): why. A rejection needs
    a reason."""

    reason: Annotated[str, Meta(max_length=1000)] = ""


Reason = Annotated[
    str, Meta(min_length=1, max_length=1000, examples=["Insurer's letter of 2 June"])
]
EvidenceReference = Annotated[
    str, Meta(min_length=1, max_length=500, examples=["OPS-1432: insurer email, 2026-06-02"])
]


class _RecordedEvent(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind"
):
    reason: Reason
    evidence_reference: EvidenceReference


class RecordCancellation(_RecordedEvent, frozen=True, tag="cancelled"):
    """Cover ends at ``effective_at`` (may lie in the past: a back-dated cancellation)."""

    effective_at: Instant


class RecordReinstatement(_RecordedEvent, frozen=True, tag="reinstated"):
    """Cover resumes at ``effective_at`` after a cancellation or lapse."""

    effective_at: Instant


class RecordLapse(_RecordedEvent, frozen=True, tag="lapsed"):
    """Cover ends at ``effective_at`` for non-payment or non-renewal."""

    effective_at: Instant


class RecordEndorsement(_RecordedEvent, frozen=True, tag="endorsed"):
    """New terms from ``effective_at`` (same policy number; the period does not move)."""

    effective_at: Instant
    policy: PolicyTerms


class RecordRenewal(_RecordedEvent, frozen=True, tag="renewed"):
    """Cover runs until ``expires_at``; continuous if ``effective_at`` is not after the end of
    the current term, else a new term from ``effective_at``."""

    effective_at: Instant
    expires_at: Instant


class RecordVerification(_RecordedEvent, frozen=True, tag="verified"):
    """The operator confirmed the policy with its insurer."""


class RecordRejection(_RecordedEvent, frozen=True, tag="verification_rejected"):
    """The operator found the policy not to be what its certificate says."""


# ``POST /v1/admin/policies/{policy_id}/events``: an operator records a lifecycle fact, with why
# (``reason``) and what shows it (``evidence_reference``), tagged by ``kind``.
RecordedPolicyEvent = (
    RecordCancellation
    | RecordReinstatement
    | RecordLapse
    | RecordEndorsement
    | RecordRenewal
    | RecordVerification
    | RecordRejection
)


class PolicyLinkBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PUT /v1/admin/policies/{policy_id}/link``: whose insurer events reach the policy
    (``provider_id``, a configured insurer; null: none). Settles a review."""

    provider_id: Annotated[str, Meta(min_length=1, max_length=64, examples=["harbor"])] | None
    reason: Reason


class PolicyAdminView(msgspec.Struct, frozen=True, kw_only=True):
    """A policy as operators see it: the document, the insurer whose events reach it, and
    whether (and why) it waits for review, with the other policies sharing its insurer and
    number (``namesakes``). Sellers never see this view."""

    policy: PolicyDocument
    provider_id: str | None
    review_reason: str | None
    namesakes: list[str] = msgspec.field(default_factory=list)


class CertificateSubmission(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A policy bought elsewhere, as its certificate of insurance (ACORD 25) states it."""

    insurer_name: Annotated[str, Meta(min_length=1, max_length=200, examples=["Harbor Mutual"])]
    insurer_rating: InsurerRating
    policy_number: Annotated[str, Meta(min_length=1, max_length=100, examples=["HM-CGL-0042"])]
    named_insured: Annotated[str, Meta(min_length=1, max_length=300)]
    policy_form: PolicyForm
    each_occurrence: Money
    general_aggregate: Money
    products_completed_operations_aggregate: Money
    deductible: Money
    additional_insureds: list[str] = msgspec.field(default_factory=list)
    certificate_holder: str = ""
    territories: Annotated[list[CountryCode], Meta(min_length=1)]
    covered_categories: Annotated[list[CategoryPath], Meta(min_length=1)]
    effective_date: date
    expiry_date: date
    cancellation_notice_days: Annotated[int, Meta(ge=0, le=365)] = 30


__all__ = [
    "BindBody",
    "BindResponse",
    "CertificateSubmission",
    "PolicyAdminView",
    "PolicyDocument",
    "PolicyEventView",
    "PolicyLinkBody",
    "PolicySource",
    "PolicyVerification",
    "RecordCancellation",
    "RecordEndorsement",
    "RecordLapse",
    "RecordReinstatement",
    "RecordRejection",
    "RecordRenewal",
    "RecordVerification",
    "RecordedPolicyEvent",
    "ReviewBody",
]
