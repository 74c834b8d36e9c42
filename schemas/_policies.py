"""Policy documents, seller-submitted certificates, and bind calls."""

import enum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas._bounds import (
    LINES_PATTERN,
    ONE_LINE_PATTERN,
    AdditionalInsureds,
    CalendarDate,
    Code,
    CoveredCategories,
    Instant,
    InsurerName,
    Money,
    Name,
    PolicyNumber,
    Territories,
    check_date,
    check_instant,
    enforced,
)
from schemas._compliance import Gap
from schemas._quotes import InsurerRating, PolicyForm, PolicyTerms


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

    reason: Annotated[
        str,
        Meta(
            max_length=1000,
            pattern=LINES_PATTERN,
            description=(
                "At most 1000 characters; no control characters but tab, line feed and "
                "carriage return."
            ),
        ),
    ] = ""


Reason = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=1000,
        pattern=LINES_PATTERN,
        description=(
            "Why: 1 to 1000 characters; no control characters but tab, line feed and "
            "carriage return."
        ),
        examples=["Insurer's letter of 2 June"],
    ),
]
EvidenceReference = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=500,
        pattern=ONE_LINE_PATTERN,
        description="What shows it: 1 to 500 characters, one line without control characters.",
        examples=["OPS-1432: insurer email, 2026-06-02"],
    ),
]


class _RecordedEvent(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind"
):
    reason: Reason
    evidence_reference: EvidenceReference


class _RecordedChange(_RecordedEvent, frozen=True):
    effective_at: Instant

    def __post_init__(self) -> None:
        if enforced():
            check_instant("effective_at", self.effective_at)


class RecordCancellation(_RecordedChange, frozen=True, tag="cancelled"):
    """Cover ends at ``effective_at`` (may lie in the past: a back-dated cancellation)."""


class RecordReinstatement(_RecordedChange, frozen=True, tag="reinstated"):
    """Cover resumes at ``effective_at`` after a cancellation or lapse."""


class RecordLapse(_RecordedChange, frozen=True, tag="lapsed"):
    """Cover ends at ``effective_at`` for non-payment or non-renewal."""


class RecordEndorsement(_RecordedChange, frozen=True, tag="endorsed"):
    """New terms from ``effective_at`` (same policy number; the period does not move)."""

    policy: PolicyTerms


class RecordRenewal(_RecordedChange, frozen=True, tag="renewed"):
    """Cover runs until ``expires_at``; continuous if ``effective_at`` is not after the end of
    the current term, else a new term from ``effective_at``."""

    expires_at: Instant

    def __post_init__(self) -> None:
        if enforced():
            check_instant("effective_at", self.effective_at)
            check_instant("expires_at", self.expires_at)


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

    provider_id: Annotated[Code, Meta(examples=["harbor"])] | None
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
    """A policy bought elsewhere, as its certificate of insurance (ACORD 25) states it.

    Amounts are in the marketplace's currency (else ``currency_mismatch``); the dates lie
    between 1970-01-01 and 2200-12-31, and the period they make (00:01 in the marketplace's time
    zone) within the instants' bounds; ``covered_categories`` are paths of the product-category
    taxonomy (else ``unknown_category``, with suggestions). ``certificate_holder`` may hold an
    address on several lines; every other text is one line.
    """

    insurer_name: InsurerName
    insurer_rating: InsurerRating
    policy_number: PolicyNumber
    named_insured: Name
    policy_form: PolicyForm
    each_occurrence: Money
    general_aggregate: Money
    products_completed_operations_aggregate: Money
    deductible: Money
    additional_insureds: AdditionalInsureds = msgspec.field(default_factory=list)
    certificate_holder: Annotated[
        str,
        Meta(
            max_length=1000,
            pattern=LINES_PATTERN,
            description=(
                "Who holds the certificate (name and address): at most 1000 characters; no "
                "control characters but tab, line feed and carriage return."
            ),
        ),
    ] = ""
    territories: Annotated[Territories, Meta(min_length=1)]
    covered_categories: Annotated[CoveredCategories, Meta(min_length=1)]
    effective_date: CalendarDate
    expiry_date: CalendarDate
    cancellation_notice_days: Annotated[int, Meta(ge=0, le=365)] = 30

    def __post_init__(self) -> None:
        if enforced():
            check_date("effective_date", self.effective_date)
            check_date("expiry_date", self.expiry_date)


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
