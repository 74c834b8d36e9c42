"""``compliance.changed``: a seller that becomes or stops being compliant because of a recorded
fact is announced once, when the sweep takes the fact's queued examination, in that transaction.
Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select

from accelerator.audit.affected import AffectedSweep
from accelerator.compliance.models import ComplianceAnnouncementRow
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from accelerator.notifications.worker import DeliveryWorker
from schemas import ComplianceChangedNotification, PolicyTerms, decode_notification
from tests.api.conftest import profiled_seller, seller_headers
from tests.api.policies import affected_sweep, bind_policy, la_today, record_event, us_terms
from tests.notifications.conftest import Client, Clock, Headers, register

__all__ = ["profiled_seller", "seller_headers"]

pytestmark = pytest.mark.anyio


def sweep(app: Litestar, database: Database) -> AffectedSweep:
    """The app's sweep on the test's own database connections, taking events at once."""
    return affected_sweep(app, database)


def compliant_terms() -> PolicyTerms:
    """Seller s-1's compliant terms, in force from 100 days ago for a year."""
    today = la_today()
    return us_terms(today - timedelta(days=100), today + timedelta(days=265))


async def bind(database: Database) -> str:
    """A policy of :func:`compliant_terms` bound now."""
    return await bind_policy(database, compliant_terms(), recorded_at=datetime.now(UTC))


async def announced(
    receiver: Any, delivery_worker: DeliveryWorker
) -> list[ComplianceChangedNotification]:
    await delivery_worker.run_until_idle()
    events = [decode_notification(d.body) for d in receiver.deliveries]
    receiver.deliveries.clear()
    assert all(isinstance(e, ComplianceChangedNotification) for e in events)
    return events  # type: ignore[return-value]


async def test_a_seller_is_told_when_it_becomes_and_stops_being_compliant_once_each(
    app: Litestar,
    database: Database,
    client: Client,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    created = await register(
        client, admin_headers, receiver.url, event_types=["compliance.changed"]
    )
    receiver.secrets.append(created["secret"])

    policy_id = await bind(database)
    await sweep(app, database).run_until_idle()
    [became] = await announced(receiver, delivery_worker)
    assert became.data.seller_id == "s-1"
    assert became.data.marketplace == "US"
    assert became.data.compliant is True
    assert became.data.gaps == []

    # Nothing changes: an endorsement keeping it compliant, the sweep run again.
    await record_event(
        database,
        policy_id,
        EventKind.ENDORSED,
        datetime.now(UTC),
        event_id="endorsed-1",
        terms=compliant_terms(),
    )
    await sweep(app, database).run_until_idle()
    await sweep(app, database).run_until_idle()
    assert await announced(receiver, delivery_worker) == []

    await record_event(
        database,
        policy_id,
        EventKind.CANCELLED,
        datetime.now(UTC) - timedelta(days=1),
        recorded_at=datetime.now(UTC),
        event_id="cancel-1",
    )
    await sweep(app, database).run_until_idle()
    [stopped] = await announced(receiver, delivery_worker)
    assert stopped.data.compliant is False
    assert stopped.data.gaps == ["policy_cancelled"]
    assert stopped.id != became.id

    await record_event(
        database,
        policy_id,
        EventKind.REINSTATED,
        datetime.now(UTC) - timedelta(days=1),
        recorded_at=datetime.now(UTC),
        event_id="reinstated-1",
    )
    await sweep(app, database).run_until_idle()
    [back] = await announced(receiver, delivery_worker)
    assert back.data.compliant is True
    assert all(d.verified_with for d in receiver.deliveries)


async def test_a_fact_that_leaves_the_seller_as_it_was_announces_nothing(
    app: Litestar,
    database: Database,
    client: Client,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    await register(client, admin_headers, receiver.url, event_types=["compliance.changed"])
    # A policy whose cover ended before it was recorded: the seller was not compliant and is
    # still not.
    today = la_today()
    ended = us_terms(today - timedelta(days=400), today - timedelta(days=35))
    await bind_policy(database, ended, recorded_at=datetime.now(UTC))
    await sweep(app, database).run_until_idle()
    assert await announced(receiver, delivery_worker) == []
    async with database.reading() as session:
        row = await session.scalar(select(ComplianceAnnouncementRow))
    assert row is not None
    assert (row.seller_id, row.compliant) == ("s-1", False)
    assert row.gaps == ["policy_not_in_force"]
