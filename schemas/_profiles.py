"""Responses of the seller endpoints: a stored profile version and the compliance status."""

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from schemas._sellers import Requirement, RiskProfile


class SellerProfileDocument(msgspec.Struct, frozen=True, kw_only=True):
    """One stored version of a seller's risk profile."""

    seller_id: str
    version: Annotated[int, Meta(ge=1)]
    created_at: Annotated[datetime, Meta(tz=True)]
    profile: RiskProfile


class ComplianceGap(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str


class QualifyingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    policy_id: str
    insurer_name: str
    policy_number: str
    expires_at: Annotated[datetime, Meta(tz=True)]
    days_until_expiry: int


class ComplianceHistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: Annotated[datetime, Meta(tz=True)]
    policy_id: str
    event: str
    detail: str = ""


class ComplianceStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the seller must be insured, by when, and whether it is (as of ``as_of``)."""

    seller_id: str
    as_of: Annotated[datetime, Meta(tz=True)]
    requirement: Requirement
    compliant_now: bool
    days_until_deadline: int | None = None
    qualifying_policy: QualifyingPolicy | None = None
    gaps: list[ComplianceGap] = msgspec.field(default_factory=list)
    expiring_soon: bool = False
    history: list[ComplianceHistoryEntry] = msgspec.field(default_factory=list)
