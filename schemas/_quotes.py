"""Quoting wire types: the canonical request every insurer adapter receives, offers, outcomes.

The canonical request is ours, not any insurer's: adapters translate it to their partner's API.
"""

import enum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas._bounds import (
    AdditionalInsureds,
    CalendarDate,
    Code,
    CountryCode,
    CoveredCategories,
    Exclusions,
    Instant,
    InsurerName,
    MarketplaceCode,
    Money,
    Name,
    PolicyNumber,
    PositiveMoney,
    Reference,
    SellerRef,
    ShortText,
    Territories,
    Text,
    check_date,
    check_instant,
    enforced,
)
from schemas._compliance import ComplianceResult, ScoreBreakdown
from schemas._sellers import BusinessModel, CategoryShare, RiskTier

#: The name instants had first; the same type (bounded, see ``Instant``).
UtcInstant = Instant
PolicyForm = Literal["occurrence", "claims_made"]
CoverageType = Literal["general_liability", "umbrella", "excess"]
InsurerRating = Annotated[
    str,
    Meta(
        pattern=r"^(A\+\+|A\+|A|A-|B\+\+|B\+|B|B-|C\+\+|C\+|C|C-|D|E|F)$",
        description="Financial strength rating on the AM Best scale.",
        examples=["A-"],
    ),
]


class OutcomeStatus(enum.StrEnum):
    """One insurer's answer to a quote request: ``awaiting`` while it is being asked, then one
    of the others (``pending``: it answers later, by callback)."""

    AWAITING = "awaiting"
    OFFERED = "offered"
    DECLINED = "declined"
    REFERRED = "referred"
    PENDING = "pending"
    TIMED_OUT = "timed_out"
    ERROR = "error"
    SKIPPED = "skipped"


#: The name the outcome view's status had first; the same type.
InsurerProgress = OutcomeStatus


class SellerSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What insurers learn about the seller: taken from its latest risk profile."""

    seller_id: str
    legal_name: str
    marketplace: MarketplaceCode
    categories: list[CategoryShare]
    annual_sales: Money
    business_model: BusinessModel
    risk_tier: RiskTier
    risk_score: int
    years_in_business: int
    manufacturing_countries: list[CountryCode] = msgspec.field(default_factory=list)


class DesiredCover(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The cover the seller asks for; insurers may offer something else.

    ``effective_date`` is the first day of cover, a date in the marketplace's reference time
    zone (for ``US``, America/Los_Angeles), at most 2200-12-31. Cover starts today at the
    earliest: a date before today in that zone is refused with a 422 naming
    ``cover.effective_date`` (code ``effective_date_in_past``), and nothing is stored. The limits
    are above 0, the deductible at least 0, all in the marketplace's currency (else
    ``currency_mismatch``).
    """

    per_occurrence: PositiveMoney
    aggregate: PositiveMoney
    max_deductible: Money
    effective_date: CalendarDate
    term_months: Annotated[int, Meta(ge=1, le=24)] = 12

    def __post_init__(self) -> None:
        if enforced():
            check_date("effective_date", self.effective_date)


class AdditionalInsured(msgspec.Struct, frozen=True, kw_only=True):
    """An additional-insured endorsement naming the marketplace operator."""

    name: Name
    wording: Text
    endorsement_form: ShortText = ""


class QuoteRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The canonical quote request handed to every eligible adapter.

    ``additional_insured`` is the endorsement the seller's marketplace requires on the policy:
    the operator's entity ``name`` and the full ``wording`` to print (from the rule set in force
    on ``cover.effective_date``). An offer that names it is one the marketplace accepts; an
    adapter passes both to its insurer rather than hard-coding an operator. It is absent only
    from requests stored before it was sent.
    """

    request_id: str
    seller: SellerSnapshot
    cover: DesiredCover
    additional_insured: AdditionalInsured | None = None


#: Days of notice of cancellation an insurer gives: up to ten years' worth.
NoticeDays = Annotated[int, Meta(ge=0, le=3650)]


class Offer(msgspec.Struct, frozen=True, kw_only=True):
    """One insurer's offer, in canonical form. Held to the contract's bounds like what clients
    send (amounts, dates from 1970-01-01 to 2200-12-31, text lengths, list sizes): an adapter's
    offer out of them is an unreadable answer."""

    provider_id: Code
    insurer_name: InsurerName
    insurer_rating: InsurerRating
    quote_reference: Reference
    premium: Money
    taxes: Money
    fees: Money
    total: Money
    coverage_type: CoverageType = "general_liability"
    policy_form: PolicyForm
    per_occurrence_limit: Money
    aggregate_limit: Money
    products_completed_operations_aggregate: Money
    deductible: Money
    additional_insured: AdditionalInsured | None = None
    # A certificate-holder mention is not an additional-insured endorsement; kept to say so.
    certificate_holder_only: bool = False
    territories: Territories
    covered_categories: CoveredCategories
    exclusions: Exclusions = msgspec.field(default_factory=list)
    cancellation_notice_days: NoticeDays
    effective_date: CalendarDate
    expiry_date: CalendarDate
    valid_until: Instant
    bindable: bool

    def __post_init__(self) -> None:
        if enforced():
            check_date("effective_date", self.effective_date)
            check_date("expiry_date", self.expiry_date)
            check_instant("valid_until", self.valid_until)


class PolicyTerms(msgspec.Struct, frozen=True, kw_only=True):
    """A bound policy as the insurer issued it: everything the coverage check needs. Held to
    the contract's bounds (amounts, instants from 1970-01-01T00:00:00Z to
    2200-12-31T23:59:59.999999Z, text lengths, list sizes) wherever it comes from."""

    insurer_name: InsurerName
    insurer_rating: InsurerRating
    policy_number: PolicyNumber
    named_insured: Name
    coverage_type: CoverageType = "general_liability"
    policy_form: PolicyForm
    per_occurrence_limit: Money
    aggregate_limit: Money
    products_completed_operations_aggregate: Money
    deductible: Money
    additional_insureds: AdditionalInsureds
    territories: Territories
    covered_categories: CoveredCategories
    effective_at: Instant
    expires_at: Instant
    cancellation_notice_days: NoticeDays = 30
    premium_total: Money | None = None

    def __post_init__(self) -> None:
        if enforced():
            check_instant("effective_at", self.effective_at)
            check_instant("expires_at", self.expires_at)


class QuoteRequestStatus(enum.StrEnum):
    """Where a quote request is: ``collecting`` (insurers are being asked) -> ``complete`` (each
    has its outcome, or the deadline passed) -> ``binding`` (a bind is under way) ->
    ``bind_pending`` (the insurer confirms later) -> ``bound`` (one of its offers is a policy)."""

    COLLECTING = "collecting"
    COMPLETE = "complete"
    BINDING = "binding"
    BIND_PENDING = "bind_pending"
    BOUND = "bound"


class OfferStatus(enum.StrEnum):
    """An offer: ``open`` until it is ``bound``, ``superseded`` (another offer of its request
    was bound) or ``withdrawn`` (its insurer's later answer replaced it); served as ``expired``
    once its validity ends while open (never stored)."""

    OPEN = "open"
    BOUND = "bound"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class QuoteRequestBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /v1/quote-requests``: ask every eligible insurer for the seller's cover.

    Without ``cover``, the seller's latest risk profile supplies it (the recommended limits, the
    marketplace's maximum deductible, starting tomorrow in the marketplace's time zone for twelve
    months). With it, cover may start today at the earliest (see ``DesiredCover``).
    """

    seller_id: SellerRef
    cover: DesiredCover | None = None
    deadline_seconds: Annotated[float, Meta(gt=0, le=120, examples=[10])] | None = None


class InsurerOutcomeView(msgspec.Struct, frozen=True, kw_only=True):
    """One insurer's answer to a quote request (``awaiting`` while it is being asked)."""

    provider_id: str
    insurer_name: str
    status: InsurerProgress
    reason_code: str | None = None
    reason: str | None = None
    quote_reference: str | None = None
    attempts: int = 0
    elapsed_ms: float | None = None


class Progress(msgspec.Struct, frozen=True):
    """How many insurers were asked, how many answered, and how many offers came back."""

    insurers: int
    answered: int
    offers: int


class RankedOffer(msgspec.Struct, frozen=True, kw_only=True):
    """An offer as the seller sees it: its rank, compliance with the marketplace, and score.

    Compliant offers always rank before non-compliant ones; the others stay visible with
    every gap.
    """

    id: str
    rank: int
    status: OfferStatus
    compliance: ComplianceResult
    score: ScoreBreakdown
    offer: Offer


class QuoteRequestSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A quote request in a list: its status and progress, without outcomes and offers."""

    id: str
    seller_id: str
    status: QuoteRequestStatus
    created_at: UtcInstant
    deadline_at: UtcInstant
    completed_at: UtcInstant | None
    progress: Progress


class BindFailure(msgspec.Struct, frozen=True, kw_only=True):
    """Why the latest attempt to buy an offer of a quote request failed; the request is open
    again (``complete``), and another bind may be tried.

    ``code`` is ours and stable: ``bind_refused`` (the insurer refused to bind; its own code in
    ``reason_code``), ``insurer_bind_failed`` (the insurer failed or answered something we could
    not read, and did not confirm a policy), ``insurer_unavailable`` (the insurer is no longer
    configured). ``reason`` is a sentence for the seller. The failure stays until the next bind
    of the request is claimed.
    """

    offer_id: str
    code: str
    reason_code: str | None = None
    reason: str
    failed_at: UtcInstant


class QuoteRequestView(msgspec.Struct, frozen=True, kw_only=True):
    """A quote request: its status, every insurer's outcome, and the offers ranked; after a
    failed bind, why it failed (``bind_failure``). A renewal, opened by the service 60 days
    before a policy ends, names that policy (``renews_policy_id``); its cover starts when the
    policy's ends."""

    id: str
    seller_id: str
    status: QuoteRequestStatus
    created_at: UtcInstant
    deadline_at: UtcInstant
    completed_at: UtcInstant | None
    progress: Progress
    cover: DesiredCover
    outcomes: list[InsurerOutcomeView]
    offers: list[RankedOffer]
    bind_failure: BindFailure | None = None
    renews_policy_id: str | None = None


class CapturedMessage(msgspec.Struct, omit_defaults=True):
    """One side of a captured HTTP exchange: headers with credentials redacted, the body cut to
    a readable size (``truncated``) with any known secret blanked out."""

    headers: dict[str, str]
    body: str = ""
    truncated: bool = False


class InsurerAttempt(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One HTTP attempt to an insurer for a quote request, as captured (secrets removed):
    ``GET /v1/quote-requests/{id}/attempts`` (admin) lists them oldest first. Once the
    retention purge has passed (``purged_at``), the request's and response's headers and
    bodies are gone: ``request`` is empty and ``response`` absent; the rest is kept."""

    provider_id: str
    number: int
    method: str
    url: str
    idempotency_key: str
    started_at: UtcInstant
    duration_ms: float
    request: CapturedMessage
    response_status: int | None = None
    response: CapturedMessage | None = None
    error: str | None = None
    purged_at: UtcInstant | None = None


__all__ = [
    "AdditionalInsured",
    "BindFailure",
    "CapturedMessage",
    "CoverageType",
    "DesiredCover",
    "InsurerAttempt",
    "InsurerOutcomeView",
    "InsurerProgress",
    "InsurerRating",
    "Offer",
    "OfferStatus",
    "OutcomeStatus",
    "PolicyForm",
    "PolicyTerms",
    "Progress",
    "QuoteRequest",
    "QuoteRequestBody",
    "QuoteRequestStatus",
    "QuoteRequestSummary",
    "QuoteRequestView",
    "RankedOffer",
    "SellerSnapshot",
    "UtcInstant",
]
