"""Factories for cover under the US rule set: compliant by default, change what a test is about."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec

from accelerator.coverage import EventKind, PolicyEvent, policy_period_from_dates
from accelerator.rulesets import RuleSetVersion, load_rulesets
from schemas import AdditionalInsured, CoverageCheckRequest, Money, Offer, PolicyTerms

US_TZ = "America/Los_Angeles"
OPERATOR = "Amazon.com Services LLC"
AI_WORDING = "and its affiliates and assignees"
SELLER = "Volt Goods LLC"


def us_rules(day: date = date(2026, 3, 1)) -> RuleSetVersion:
    """The US rule-set version in force on ``day``."""
    return load_rulesets().version_at("US", day)


def usd(amount: str | int) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def make_offer(**changes: Any) -> Offer:
    """A bindable offer that meets every US rule; ``changes`` replace fields."""
    offer = Offer(
        provider_id="sandbox-sync",
        insurer_name="Harbor Mutual",
        insurer_rating="A",
        quote_reference="Q-1",
        premium=usd(1000),
        taxes=usd(50),
        fees=usd(25),
        total=usd(1075),
        policy_form="occurrence",
        per_occurrence_limit=usd(1_000_000),
        aggregate_limit=usd(2_000_000),
        products_completed_operations_aggregate=usd(2_000_000),
        deductible=usd(2_500),
        additional_insured=AdditionalInsured(name=OPERATOR, wording=AI_WORDING),
        territories=["US"],
        covered_categories=["electronics", "home"],
        cancellation_notice_days=30,
        effective_date=date(2026, 3, 1),
        expiry_date=date(2027, 3, 1),
        valid_until=datetime(2026, 3, 15, tzinfo=UTC),
        bindable=True,
    )
    return msgspec.structs.replace(offer, **changes)


def make_terms(**changes: Any) -> PolicyTerms:
    """A policy for SELLER that meets every US rule, 2026-01-01 to 2027-01-01 (00:01 LA)."""
    start, end = policy_period_from_dates(date(2026, 1, 1), date(2027, 1, 1), US_TZ)
    terms = PolicyTerms(
        insurer_name="Harbor Mutual",
        insurer_rating="A",
        policy_number="GL-100",
        named_insured=SELLER,
        policy_form="occurrence",
        per_occurrence_limit=usd(1_000_000),
        aggregate_limit=usd(2_000_000),
        products_completed_operations_aggregate=usd(2_000_000),
        deductible=usd(2_500),
        additional_insureds=[f"{OPERATOR} {AI_WORDING}"],
        territories=["US"],
        covered_categories=["electronics"],
        effective_at=start,
        expires_at=end,
        cancellation_notice_days=30,
    )
    return msgspec.structs.replace(terms, **changes)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


#: When the policy of make_terms() was recorded: before anything a test looks at.
RECORDED = utc(2025, 12, 20)


def issued(
    terms: PolicyTerms | None = None,
    *,
    event_id: str = "e-issued",
    recorded_at: datetime = RECORDED,
) -> PolicyEvent:
    terms = terms or make_terms()
    return PolicyEvent(
        event_id=event_id,
        kind="issued",
        effective_at=terms.effective_at,
        recorded_at=recorded_at,
        terms=terms,
    )


def change(
    kind: EventKind,
    effective_at: datetime,
    *,
    event_id: str | None = None,
    recorded_at: datetime | None = None,
    **fields: Any,
) -> PolicyEvent:
    """Any other event; recorded when it takes effect unless told otherwise."""
    return PolicyEvent(
        event_id=event_id or f"e-{kind}-{effective_at.isoformat()}",
        kind=kind,
        effective_at=effective_at,
        recorded_at=recorded_at or effective_at,
        **fields,
    )


def make_claim(**changes: Any) -> CoverageCheckRequest:
    """A 500 USD claim for an electronics item in the US on 2026-03-01 18:30 UTC."""
    claim = CoverageCheckRequest(
        seller_id="slr_1",
        incident_at=utc(2026, 3, 1, 18, 30),
        product_category="electronics/power-banks",
        marketplace="US",
        claim_amount=usd(500),
    )
    return msgspec.structs.replace(claim, **changes)
