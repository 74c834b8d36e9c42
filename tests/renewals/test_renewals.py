"""Renewals through the API, on SQLite and PostgreSQL: the sweep opens one renewal per policy 60
days before it ends (however often and however many sweep), none for a policy that will not
run to its end, and binding a renewal offer continues cover without a gap."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.coverage.state import EventKind
from accelerator.infra.database import open_database
from accelerator.quoting.models import QuoteRequestRow
from accelerator.quoting.runner import QuoteRunner, finish_abandoned
from schemas import QuoteRequest
from tests.api.policies import claim, la_today, record_event
from tests.compliance.factories import US_TZ
from tests.notifications.test_reminders import announced
from tests.renewals.conftest import CATEGORY, Service, policy_ending, renewal_settled

pytestmark = pytest.mark.anyio

LA = ZoneInfo(US_TZ)


def at_noon(day: date) -> datetime:
    """Noon in Los Angeles on ``day``, as a UTC instant."""
    return datetime.combine(day, time(12, 0), tzinfo=LA).astimezone(UTC)


def fixed(instant: datetime) -> Any:
    return lambda: instant


async def renewal_count(service: Service) -> int:
    async with service.database.reading() as session:
        count = await session.scalar(
            select(func.count()).where(QuoteRequestRow.renews_policy_id.is_not(None))
        )
    return int(count or 0)


async def test_a_renewal_opens_sixty_days_before_the_end_and_only_once(service: Service) -> None:
    ends_on = la_today() + timedelta(days=90)
    policy_id = await policy_ending(service.database, ends_on)
    # 61 days before: not yet, and the 404 says when it opens.
    assert await service.sweep(fixed(at_noon(ends_on - timedelta(days=61)))).run() == []
    missing = await service.client.get(f"/v1/policies/{policy_id}/renewal")
    assert missing.status_code == 404
    problem = missing.json()
    assert problem["code"] == "renewal_not_found"
    opens = (ends_on - timedelta(days=60)).isoformat()
    assert (
        f"a renewal opens 60 days before a policy ends, for this one on {opens}"
        in (problem["detail"])
    )
    # 60 days before: opened; swept again that day and later, never a second one.
    on_time = service.sweep(fixed(at_noon(ends_on - timedelta(days=60))))
    [opened] = await on_time.run()
    assert await on_time.run() == []
    assert await service.sweep(fixed(at_noon(ends_on - timedelta(days=30)))).run() == []
    assert await renewal_count(service) == 1
    view = await renewal_settled(service.client, policy_id)
    assert view["id"] == opened
    assert view["renews_policy_id"] == policy_id
    # Cover asked from the day the policy ends, of every insurer (the policy's own included).
    assert view["cover"]["effective_date"] == ends_on.isoformat()
    assert {o["provider_id"] for o in view["outcomes"]} == {"harbor", "summit", "meridian", "acorn"}
    assert any(o["compliance"]["compliant"] for o in view["offers"])
    # Also readable as any quote request; the claims engine reads it as it reads the policy,
    # another seller does not see that the policy exists.
    same = (await service.client.get(f"/v1/quote-requests/{opened}")).json()
    assert same["renews_policy_id"] == policy_id
    claims = await create_key(service.database, Role.CLAIMS)
    other = await create_key(service.database, Role.SELLER, seller_id="s-2")
    path = f"/v1/policies/{policy_id}/renewal"
    as_claims = await service.client.get(path, headers={"Authorization": f"Bearer {claims.secret}"})
    assert as_claims.status_code == 200
    assert as_claims.json()["id"] == opened
    as_other = await service.client.get(path, headers={"Authorization": f"Bearer {other.secret}"})
    assert as_other.status_code == 404
    assert as_other.json()["code"] == "policy_not_found"


async def test_the_sixty_day_reminder_names_the_renewal(service: Service) -> None:
    # An endpoint listening, so that the reminder is written to the outbox.
    registered = await service.admin.post(
        "/v1/admin/webhook-endpoints", json={"url": "http://127.0.0.1:9/hooks"}
    )
    assert registered.status_code == 201, registered.text
    ends_on = la_today() + timedelta(days=45)
    policy_id = await policy_ending(service.database, ends_on)
    now = fixed(at_noon(la_today()))
    # As each tick of the service runs them: renewals first, then reminders.
    [opened] = await service.sweep(now).run()
    await service.reminders(now).run()
    [event] = await announced(service.database, "policy.expiring")
    assert event["data"]["policy_id"] == policy_id
    assert event["data"]["renewal_quote_request_id"] == opened


async def test_two_sweeps_at_once_open_one_renewal_per_policy(
    service: Service, database_url: str
) -> None:
    ends_on = la_today() + timedelta(days=40)
    for offset in range(3):
        await policy_ending(
            service.database, ends_on + timedelta(days=offset), number=f"MSI-GL-{offset}"
        )
    now = fixed(at_noon(la_today()))
    other = open_database(database_url)
    try:
        first = service.sweep(now)
        second = service.sweep(now)
        second.db = other
        results = await asyncio.gather(first.run(), second.run(), return_exceptions=True)
    finally:
        await other.dispose()
    opened = [request_id for result in results if isinstance(result, list) for request_id in result]
    failures = [result for result in results if isinstance(result, BaseException)]
    assert not failures, failures
    # One sweep opened all three, or they shared them; never one policy twice (a sweep that
    # lost a race on the unique index fails its page and opens nothing there).
    assert len(opened) == len(set(opened)) == await renewal_count(service) == 3


class DiesBeforeFanOut(QuoteRunner):
    """A process that dies between committing a renewal and fanning it out."""

    def start(self, request: QuoteRequest, deadline_seconds: float) -> asyncio.Task[None]:
        raise RuntimeError("the process died")


async def test_a_renewal_whose_process_died_before_fanning_out_is_finished_as_any_request(
    service: Service,
) -> None:
    policy_id = await policy_ending(service.database, la_today() + timedelta(days=30))
    sweep = service.sweep(fixed(datetime.now(UTC)))
    runner = sweep.quoting.runner
    dying = DiesBeforeFanOut(runner.db, runner.partners, runner.policy)
    crashing = dataclasses.replace(sweep, quoting=dataclasses.replace(sweep.quoting, runner=dying))
    with pytest.raises(RuntimeError, match="the process died"):
        await crashing.run()
    # Committed before the crash: collecting, every insurer awaiting.
    view = (await service.client.get(f"/v1/policies/{policy_id}/renewal")).json()
    assert view["status"] == "collecting"
    assert {o["status"] for o in view["outcomes"]} == {"awaiting"}
    # The sweep for abandoned requests finishes it once its deadline has long passed.
    deadline = datetime.fromisoformat(view["deadline_at"])
    assert await finish_abandoned(service.database, now=deadline + timedelta(minutes=1)) == 1
    view = (await service.client.get(f"/v1/policies/{policy_id}/renewal")).json()
    assert view["status"] == "complete"
    assert {o["status"] for o in view["outcomes"]} == {"timed_out"}
    # And the policy is not renewed a second time.
    assert await service.sweep(fixed(datetime.now(UTC))).run() == []
    assert await renewal_count(service) == 1


async def test_a_policy_scheduled_to_cancel_or_cancelled_is_not_renewed(service: Service) -> None:
    ends_on = la_today() + timedelta(days=30)
    scheduled = await policy_ending(service.database, ends_on, number="MSI-GL-SCHEDULED")
    cancelled = await policy_ending(service.database, ends_on, number="MSI-GL-CANCELLED")
    await record_event(
        service.database,
        scheduled,
        EventKind.CANCELLED,
        effective_at=at_noon(ends_on - timedelta(days=10)),
    )
    await record_event(
        service.database,
        cancelled,
        EventKind.CANCELLED,
        effective_at=datetime.now(UTC) - timedelta(days=1),
    )
    assert await service.sweep(fixed(datetime.now(UTC))).run() == []
    for policy_id in (scheduled, cancelled):
        response = await service.client.get(f"/v1/policies/{policy_id}/renewal")
        assert response.status_code == 404
        assert "not cancelled, lapsed or scheduled to cancel" in response.json()["detail"]


async def test_binding_a_renewal_offer_continues_cover_without_a_gap(service: Service) -> None:
    ends_on = la_today() + timedelta(days=20)
    policy_id = await policy_ending(service.database, ends_on)
    [opened] = await service.sweep(fixed(datetime.now(UTC))).run()
    view = await renewal_settled(service.client, policy_id)
    # A synchronous insurer's offer, so that the bind answers with the policy.
    best = next(
        o
        for o in view["offers"]
        if o["compliance"]["compliant"]
        and o["offer"]["bindable"]
        and o["offer"]["provider_id"] in ("harbor", "summit", "acorn")
    )
    bound = await service.client.post(
        f"/v1/offers/{best['id']}/bind", json={}, headers={"Idempotency-Key": "renew-1"}
    )
    assert bound.status_code == 201, bound.text
    renewed = bound.json()["policy"]
    old = (await service.client.get(f"/v1/policies/{policy_id}")).json()
    assert bound.json()["quote_request_id"] == opened
    assert renewed["terms"]["effective_at"] == old["terms"]["expires_at"]
    end = datetime.fromisoformat(old["terms"]["expires_at"])
    # The old policy covers the last second before its end, the renewal the first after it.
    sides = {end - timedelta(seconds=1): policy_id, end + timedelta(seconds=1): renewed["id"]}
    for instant, covering in sides.items():
        check = await service.admin.post(
            "/v1/coverage/checks",
            json=claim(incident_at=instant.isoformat(), product_category=CATEGORY),
        )
        assert check.status_code == 200, check.text
        decision = check.json()
        assert decision["decision"] == "exempt", (instant, decision)
        assert decision["covered"] is True
        assert decision["policy"]["id"] == covering
    compliance = (await service.client.get("/v1/sellers/s-1/compliance")).json()
    assert compliance["compliant_now"] is True
    # The renewal takes over at the end: the current cover is not "expiring soon".
    assert compliance["expiring_soon"] is False
