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
    event_id: str
    kind: str
    effective_at: Instant
    recorded_at: Instant
    detail: str = ""


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
    "PolicyDocument",
    "PolicyEventView",
    "PolicySource",
    "PolicyVerification",
    "ReviewBody",
]
