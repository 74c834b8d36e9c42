"""The reminder sweep (policy.expiring, compliance.deadline) with a clock the tests move: each
reminder once ever, across two sweepers at once, downtime and restarts, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from sqlalchemy import select

from accelerator.infra.database import Database, open_database
from accelerator.notifications.models import MessageRow, ReminderRow
from accelerator.notifications.sweep import ReminderSweep
from accelerator.notifications.worker import DeliveryWorker
from accelerator.risk.taxonomy import load_taxonomy
from accelerator.rulesets.loader import load_rulesets
from accelerator.sellers.service import SellerService
from accelerator.settings import Settings
from schemas import decode_notification
from tests.api.policies import bind_policy, us_terms
from tests.compliance.factories import US_TZ
from tests.notifications.conftest import Client, Clock, Headers, register

pytestmark = pytest.mark.anyio

LA = ZoneInfo(US_TZ)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The app's own reminder sweep must not run on the real clock beside the tests' sweeps.
    return msgspec.structs.replace(settings, reminder_sweep_seconds=3600.0)


def at_noon(day: date) -> datetime:
    """Noon in Los Angeles on ``day``, as a UTC instant."""
    return datetime.combine(day, time(12, 0), tzinfo=LA).astimezone(UTC)


def sweeper(database: Database, clock: Callable[[], datetime]) -> ReminderSweep:
    """A sweep as a process builds it, on ``database``, at ``clock``'s time; small pages so
    that the tests cross page boundaries."""
    rulebook = load_rulesets()
    sellers = SellerService(database, rulebook, load_taxonomy())
    return ReminderSweep(database, sellers, rulebook, clock=clock, page_size=2)


class Fixed:
    """A clock that says what it was last set to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def announced(database: Database, event_type: str) -> list[dict[str, Any]]:
    """The events of ``event_type`` written to the outbox, in order (one endpoint listens)."""
    async with database.reading() as session:
        bodies = await session.scalars(
            select(MessageRow.body)
            .where(MessageRow.event_type == event_type)
            .order_by(MessageRow.id)
        )
        return [msgspec.json.decode(body) for body in bodies]


async def listening(client: Client, admin_headers: Headers) -> None:
    """An endpoint that wants every event (deliveries are not what these tests look at)."""
    await register(client, admin_headers, "http://127.0.0.1:9/hooks")


async def expiring_policy(database: Database, ends_on: date, number: str = "") -> str:
    """A compliant policy of seller s-1 bound here, ending at 00:01 Los Angeles on ``ends_on``."""
    terms = us_terms(
        ends_on - timedelta(days=365),
        ends_on,
        policy_number=number or f"MSI-GL-{ends_on.isoformat()}",
    )
    return await bind_policy(database, terms)


async def test_a_policy_gets_exactly_three_reminders_over_sixty_days_of_sweeps(
    client: Client, admin_headers: Headers, seller: str, database: Database
) -> None:
    await listening(client, admin_headers)
    ends_on = date(2027, 6, 1)
    policy_id = await expiring_policy(database, ends_on)
    # Two more policies, so that pages of two hold several: one ends much later.
    await expiring_policy(database, date(2028, 6, 1))
    clock = Fixed(at_noon(ends_on - timedelta(days=70)))
    sweep = sweeper(database, clock)
    sent_on: dict[int, date] = {}
    for day in range(75):
        clock.now = at_noon(ends_on - timedelta(days=70 - day))
        before = len(await announced(database, "policy.expiring"))
        await sweep.run()
        events = await announced(database, "policy.expiring")
        for event in events[before:]:
            sent_on[event["data"]["days_before"]] = ends_on - timedelta(days=70 - day)
    events = await announced(database, "policy.expiring")
    assert [e["data"]["days_before"] for e in events] == [60, 30, 7]
    assert {e["data"]["policy_id"] for e in events} == {policy_id}
    # Counted in Los Angeles days: each on the local day that many days before the end.
    assert sent_on == {n: ends_on - timedelta(days=n) for n in (60, 30, 7)}
    assert events[2]["data"]["expires_at"].startswith("2027-06-01T07:01:00")


async def test_two_sweeps_at_once_announce_a_reminder_once(
    client: Client, admin_headers: Headers, seller: str, database: Database, database_url: str
) -> None:
    await listening(client, admin_headers)
    ends_on = date(2027, 6, 1)
    for offset in range(5):
        await expiring_policy(database, ends_on + timedelta(days=offset))
    clock = Fixed(at_noon(ends_on - timedelta(days=20)))
    other = open_database(database_url)
    try:
        for _ in range(3):
            await asyncio.gather(sweeper(database, clock).run(), sweeper(other, clock).run())
    finally:
        await other.dispose()
    events = await announced(database, "policy.expiring")
    assert sorted(e["data"]["days_before"] for e in events) == [30] * 5
    assert len({e["data"]["policy_id"] for e in events}) == 5


async def test_after_downtime_one_reminder_the_most_urgent_and_none_later(
    client: Client, admin_headers: Headers, seller: str, database: Database
) -> None:
    await listening(client, admin_headers)
    ends_on = date(2027, 6, 1)
    await expiring_policy(database, ends_on)
    clock = Fixed(at_noon(ends_on - timedelta(days=70)))
    await sweeper(database, clock).run()
    assert await announced(database, "policy.expiring") == []

    clock.now = at_noon(ends_on - timedelta(days=5))  # down for 65 days
    await sweeper(database, clock).run()
    for day in range(4, -2, -1):
        clock.now = at_noon(ends_on - timedelta(days=day))
        await sweeper(database, clock).run()

    events = await announced(database, "policy.expiring")
    assert [e["data"]["days_before"] for e in events] == [7]
    async with database.reading() as session:
        markers = (await session.execute(select(ReminderRow.threshold, ReminderRow.event_id))).all()
    # The skipped thresholds are marked too, without an event.
    assert sorted((t, e is not None) for t, e in markers) == [(7, True), (30, False), (60, False)]


async def test_a_restarted_process_does_not_announce_again(
    client: Client, admin_headers: Headers, seller: str, database: Database, database_url: str
) -> None:
    await listening(client, admin_headers)
    ends_on = date(2027, 6, 1)
    await expiring_policy(database, ends_on)
    clock = Fixed(at_noon(ends_on - timedelta(days=45)))
    await sweeper(database, clock).run()
    restarted = open_database(database_url)
    try:
        await sweeper(restarted, clock).run()
        clock.now += timedelta(hours=6)
        await sweeper(restarted, clock).run()
    finally:
        await restarted.dispose()
    assert [e["data"]["days_before"] for e in await announced(database, "policy.expiring")] == [60]


async def test_a_cancelled_or_renewed_policy_is_not_reminded_of_the_old_end(
    client: Client, admin_headers: Headers, seller: str, database: Database
) -> None:
    from accelerator.coverage.state import EventKind
    from tests.api.policies import la_time, record_event

    await listening(client, admin_headers)
    ends_on = date(2027, 6, 1)
    cancelled = await expiring_policy(database, ends_on)
    renewed = await expiring_policy(database, ends_on + timedelta(days=1))
    await record_event(database, cancelled, EventKind.CANCELLED, la_time(date(2027, 5, 20), 0, 1))
    new_end = la_time(date(2028, 6, 2), 0, 1)
    await record_event(
        database, renewed, EventKind.RENEWED, la_time(date(2027, 6, 2), 0, 1), expires_at=new_end
    )
    await sweeper(database, Fixed(at_noon(ends_on - timedelta(days=10)))).run()
    assert await announced(database, "policy.expiring") == []
    # The renewed policy is reminded of its new end instead.
    await sweeper(database, Fixed(at_noon(date(2028, 6, 2) - timedelta(days=59)))).run()
    [event] = await announced(database, "policy.expiring")
    assert event["data"]["policy_id"] == renewed
    assert event["data"]["days_before"] == 60


async def comply_by(client: Client, admin_headers: Headers) -> date:
    response = await client.get("/v1/sellers/s-1/compliance", headers=admin_headers)
    assert response.status_code == 200, response.text
    return date.fromisoformat(response.json()["requirement"]["comply_by"])


async def test_deadline_reminders_stop_once_the_seller_is_compliant(
    client: Client, admin_headers: Headers, seller: str, database: Database
) -> None:
    await listening(client, admin_headers)
    deadline = await comply_by(client, admin_headers)
    clock = Fixed(at_noon(deadline - timedelta(days=40)))
    await sweeper(database, clock).run()
    assert await announced(database, "compliance.deadline") == []

    clock.now = at_noon(deadline - timedelta(days=30))
    await sweeper(database, clock).run()
    [event] = await announced(database, "compliance.deadline")
    assert event["data"] == {
        "seller_id": "s-1",
        "marketplace": "US",
        "comply_by": deadline.isoformat(),
        "days_before": 30,
    }

    # A qualifying policy in force from before the 7-day mark: no second reminder.
    await expiring_policy(database, deadline + timedelta(days=345), number="MSI-GL-COMPLIANT")
    for days_before in (7, 3, 0):
        clock.now = at_noon(deadline - timedelta(days=days_before))
        await sweeper(database, clock).run()
    assert len(await announced(database, "compliance.deadline")) == 1


async def test_a_seller_never_compliant_gets_both_deadline_reminders(
    client: Client, admin_headers: Headers, seller: str, database: Database
) -> None:
    await listening(client, admin_headers)
    deadline = await comply_by(client, admin_headers)
    clock = Fixed(at_noon(deadline))
    for days_before in range(35, -3, -1):
        clock.now = at_noon(deadline - timedelta(days=days_before))
        await sweeper(database, clock).run()
    events = await announced(database, "compliance.deadline")
    assert [e["data"]["days_before"] for e in events] == [30, 7]


async def test_a_subscribed_endpoint_receives_the_reminder_signed(
    client: Client,
    admin_headers: Headers,
    seller: str,
    database: Database,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    created = await register(client, admin_headers, receiver.url, event_types=["policy.expiring"])
    receiver.secrets.append(created["secret"])
    today = clock().astimezone(LA).date()
    policy_id = await expiring_policy(database, today + timedelta(days=40))
    await sweeper(database, clock).run()
    assert await delivery_worker.run_until_idle() == 1
    [delivery] = receiver.deliveries
    assert delivery.verified_with == [created["secret"]]
    event = decode_notification(delivery.body)
    assert event.id == delivery.webhook_id
    assert delivery.event["type"] == "policy.expiring"
    assert delivery.event["data"]["policy_id"] == policy_id
    assert delivery.event["data"]["days_before"] == 60


async def test_a_sweep_page_reads_only_policies_with_an_end_near(
    seller: str, database: Database
) -> None:
    from accelerator.coverage.repository import policies_ending_page

    near = await expiring_policy(database, date(2027, 6, 1))
    await expiring_policy(database, date(2028, 6, 1))
    await expiring_policy(database, date(2026, 6, 1))
    async with database.writing() as session:
        page, _ = await policies_ending_page(
            session, after=None, limit=10, ending=(date(2027, 5, 1), date(2027, 6, 3))
        )
    assert [p.policy_id for p in page] == [near]


async def test_sweep_pages_follow_the_period_ends_in_order_and_resume_after_the_cursor(
    seller: str, database: Database
) -> None:
    from accelerator.coverage.repository import policies_ending_page

    later = await expiring_policy(database, date(2027, 6, 20))
    sooner = await expiring_policy(database, date(2027, 6, 10))
    window = (date(2027, 6, 1), date(2027, 7, 1))
    seen = []
    cursor = None
    async with database.writing() as session:
        while True:
            page, cursor = await policies_ending_page(session, after=cursor, limit=1, ending=window)
            if cursor is None:
                break
            seen.extend(p.policy_id for p in page)
    assert seen == [sooner, later]


async def test_a_sweep_page_is_a_range_scan_of_the_period_end_index(
    seller: str, database: Database
) -> None:
    from sqlalchemy import text

    from accelerator.coverage.repository import ending_events

    await expiring_policy(database, date(2027, 6, 1))
    query = ending_events(
        after=("2027-06-01", "pol"), limit=500, ending=(date(2027, 5, 1), date(2027, 6, 3))
    )
    async with database.writing() as session:
        connection = await session.connection()
        sql = str(query.compile(connection.engine, compile_kwargs={"literal_binds": True}))
        if database.is_sqlite:
            plan = (await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))).all()
        else:
            # A table this small is cheaper to scan: the question is whether the index can serve.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = (await session.execute(text(f"EXPLAIN {sql}"))).all()
    assert "ix_policy_events_period_end" in " ".join(str(row) for row in plan)
