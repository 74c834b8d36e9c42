"""Policies in the registry for API tests: the bodies clients send (certificates, claims), and
writes through the registry's own code (``coverage.repository``), as binding and webhooks do."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Litestar

from accelerator.audit.affected import AffectedSweep
from accelerator.compliance.announce import ComplianceAnnouncer
from accelerator.coverage import repository
from accelerator.coverage.state import EventKind, policy_period_from_dates
from accelerator.infra.database import Database
from accelerator.server import runtime_of
from schemas import PolicySource, PolicyTerms
from tests.compliance.factories import US_TZ, make_terms

OPERATOR = "Amazon.com Services LLC and its affiliates and assignees"


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def certificate(**changes: Any) -> dict[str, Any]:
    """A certificate body of seller s-1's compliant Harbor policy, in force for 100 days."""
    today = datetime.now(UTC).date()
    body = {
        "insurer_name": "Harbor Mutual",
        "insurer_rating": "A",
        "policy_number": "HM-1",
        "named_insured": "Volt Goods LLC",
        "policy_form": "occurrence",
        "each_occurrence": usd("1000000"),
        "general_aggregate": usd("2000000"),
        "products_completed_operations_aggregate": usd("2000000"),
        "deductible": usd("5000"),
        "additional_insureds": [OPERATOR],
        "territories": ["US"],
        "covered_categories": ["electronics"],
        "effective_date": (today - timedelta(days=100)).isoformat(),
        "expiry_date": (today + timedelta(days=265)).isoformat(),
        "cancellation_notice_days": 30,
    }
    body.update(changes)
    return body


def claim(amount: str = "400", **changes: Any) -> dict[str, Any]:
    """A claims engine's check for seller s-1: a power bank sold in the US, ten days ago."""
    body = {
        "seller_id": "s-1",
        "incident_at": (datetime.now(UTC) - timedelta(days=10)).isoformat(),
        "product_category": "electronics/power-banks",
        "marketplace": "US",
        "claim_amount": usd(amount),
    }
    body.update(changes)
    return body


def la_today() -> date:
    """Today's date in the US marketplace's reference time zone."""
    return datetime.now(ZoneInfo(US_TZ)).date()


def la_time(day: date, hour: int, minute: int) -> datetime:
    """A wall-clock time in Los Angeles, as a UTC instant."""
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(US_TZ))
    return local.astimezone(UTC)


def us_terms(effective: date, expiry: date, **changes: Any) -> PolicyTerms:
    """Compliant US terms for the reference seller (Volt Goods LLC, electronics) running from
    00:01 Los Angeles time on ``effective`` to 00:01 on ``expiry``."""
    start, end = policy_period_from_dates(effective, expiry, US_TZ)
    return make_terms(effective_at=start, expires_at=end, **changes)


async def bind_policy(
    database: Database,
    terms: PolicyTerms,
    *,
    seller_id: str = "s-1",
    recorded_at: datetime | None = None,
) -> str:
    """A policy bound through the service (verified by the insurer's confirmation); its id."""
    recorded = recorded_at or terms.effective_at - timedelta(days=7)
    async with database.writing() as session:
        policy = await repository.create_policy(
            session,
            seller_id=seller_id,
            terms=terms,
            source=PolicySource.BOUND,
            recorded_at=recorded,
            event_id=f"bind.{terms.policy_number}",
            verified=True,
        )
    return policy.id


async def record_event(
    database: Database,
    policy_id: str,
    kind: EventKind,
    effective_at: datetime,
    *,
    recorded_at: datetime | None = None,
    event_id: str | None = None,
    reason: str = "",
    expires_at: datetime | None = None,
    terms: PolicyTerms | None = None,
) -> None:
    """Append one event to a policy; recorded when it takes effect unless told otherwise
    (a later ``recorded_at`` makes it back-dated)."""
    data: dict[str, Any] = {}
    if reason:
        data["reason"] = reason
    if expires_at is not None:
        data["expires_at"] = expires_at.isoformat()
    if terms is not None:
        data["terms"] = msgspec.to_builtins(terms)
    async with database.writing() as session:
        policy = await repository.policy(session, policy_id)
        assert policy is not None, f"no policy {policy_id}"
        added = await repository.add_event(
            session,
            policy,
            event_id=event_id or f"{policy_id}.{kind}.{effective_at.isoformat()}",
            kind=kind,
            effective_at=effective_at,
            recorded_at=recorded_at or effective_at,
            data=data,
        )
    assert added, "event ids are unique per test"


def affected_sweep(app: Litestar, database: Database) -> AffectedSweep:
    """The app's affected-decisions sweep (with its compliance announcements) on the test's own
    database connections (the app's belong to the test client's loop), taking events at once."""
    services = runtime_of(app).services
    sellers = dataclasses.replace(services.sellers, db=database)
    compliance = dataclasses.replace(services.compliance, db=database, sellers=sellers)
    return dataclasses.replace(
        services.affected,
        db=database,
        coverage=dataclasses.replace(services.coverage, db=database),
        compliance=ComplianceAnnouncer(compliance),
        settle=timedelta(0),
    )
