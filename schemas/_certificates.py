"""Certificates of insurance: the public status a certificate's live link shows, and what the
service read from a certificate a seller uploaded."""

from datetime import date
from typing import Literal

import msgspec

from schemas._bounds import Instant, Money
from schemas._compliance import GapCode
from schemas._policies import CertificateSubmission
from schemas._sellers import RuleSetRef

#: What a certificate's live link says of its policy now: ``active`` (in force; ``cover_ends_on``
#: names a cancellation already scheduled), ``cancelled`` or ``lapsed`` (since ``status_since``),
#: ``expired`` (its period is over), ``not_yet_active`` (it starts on ``effective_date``),
#: ``pending_verification`` (the insurer or an operator has not confirmed it) or ``rejected``.
CertificateStatusCode = Literal[
    "active",
    "cancelled",
    "lapsed",
    "expired",
    "not_yet_active",
    "pending_verification",
    "rejected",
]


class CertificateStatus(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /verify/{token}`` with ``Accept: application/json``: the policy behind a
    certificate, now. Deliberately little: who insures whom under which number, for when, and
    its status; never a price, a limit or an address. Dates are in the marketplace's time zone
    (``timezone``)."""

    policy_number: str
    insurer_name: str
    named_insured: str
    status: CertificateStatusCode
    #: When a cancellation or lapse took effect (``cancelled``, ``lapsed``), or when the period
    #: ended (``expired``).
    status_since: date | None = None
    #: A cancellation or lapse that takes effect later: the last day of cover is the day before.
    cover_ends_on: date | None = None
    effective_date: date
    expiry_date: date
    timezone: str
    checked_at: Instant


class CertificateDraft(msgspec.Struct, frozen=True, kw_only=True):
    """A policy submission as read from an uploaded certificate: the fields of
    :class:`CertificateSubmission`, each null when the certificate did not show it."""

    insurer_name: str | None = None
    insurer_rating: str | None = None
    policy_number: str | None = None
    named_insured: str | None = None
    policy_form: str | None = None
    each_occurrence: Money | None = None
    general_aggregate: Money | None = None
    products_completed_operations_aggregate: Money | None = None
    deductible: Money | None = None
    additional_insureds: list[str] = msgspec.field(default_factory=list)
    certificate_holder: str = ""
    territories: list[str] = msgspec.field(default_factory=list)
    covered_categories: list[str] = msgspec.field(default_factory=list)
    effective_date: date | None = None
    expiry_date: date | None = None
    cancellation_notice_days: int | None = None


class CertificateGap(msgspec.Struct, frozen=True, kw_only=True):
    """One way the certificate's policy falls short of the marketplace's rules: the gap as the
    compliance evaluation words it, and ``fix``, what to ask the insurer for."""

    code: GapCode
    message: str
    rule: str
    fix: str


class MissingField(msgspec.Struct, frozen=True, kw_only=True):
    """A field of the submission the certificate did not show (or showed unreadably)."""

    field: str
    message: str


class CertificateReading(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/sellers/{seller_id}/certificates``: what was read, nothing stored.

    ``read_from`` says whether the PDF's form fields or its text were read. ``submission`` is
    the complete submission, ready for ``POST /v1/sellers/{seller_id}/policies``, when every
    required field was read (else null, and ``missing`` names what to type); ``draft`` holds
    whatever was read either way. ``gaps`` lists every way the policy falls short of the
    marketplace's rules in force today, each with the wording that would fix it (evaluated only
    for a complete submission)."""

    read_from: Literal["form_fields", "text"]
    draft: CertificateDraft
    submission: CertificateSubmission | None = None
    missing: list[MissingField] = msgspec.field(default_factory=list)
    gaps: list[CertificateGap] = msgspec.field(default_factory=list)
    rule_set: RuleSetRef | None = None


__all__ = [
    "CertificateDraft",
    "CertificateGap",
    "CertificateReading",
    "CertificateStatus",
    "CertificateStatusCode",
    "MissingField",
]
