"""``coverage.decision_affected``: the affected-decisions sweep announces each receipt it marks,
in the transaction that writes the mark, to the claims engine's endpoint. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar

from accelerator.audit.affected import AffectedSweep
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from accelerator.notifications.worker import DeliveryWorker
from schemas import DecisionAffectedNotification, decode_notification
from tests.api.conftest import claims_headers, profiled_seller, seller_headers
from tests.api.policies import affected_sweep, bind_policy, claim, la_today, record_event, us_terms
from tests.notifications.conftest import Client, Clock, Headers, register

__all__ = ["claims_headers", "profiled_seller", "seller_headers"]

pytestmark = pytest.mark.anyio
NOW = datetime.now(UTC)


def sweep(app: Litestar, database: Database) -> AffectedSweep:
    """The app's sweep on the test's own database connections, taking events at once."""
    return affected_sweep(app, database)


@pytest.fixture
async def bound(database: Database, profiled_seller: dict[str, Any]) -> str:
    """Seller s-1's compliant policy, bound through us 300 days ago, in force since then."""
    today = la_today()
    terms = us_terms(today - timedelta(days=300), today + timedelta(days=65))
    return await bind_policy(database, terms, recorded_at=NOW - timedelta(days=301))


async def check(client: Client, headers: Headers, **changes: Any) -> dict[str, Any]:
    response = await client.post("/v1/coverage/checks", json=claim(**changes), headers=headers)
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()
    return decision


async def test_the_claims_engine_hears_once_of_each_decision_a_back_dated_cancellation_changes(
    app: Litestar,
    database: Database,
    client: Client,
    admin_headers: Headers,
    claims_headers: Headers,
    bound: str,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    created = await register(
        client, admin_headers, receiver.url, event_types=["coverage.decision_affected"]
    )
    receiver.secrets.append(created["secret"])
    before_cut = await check(
        client, claims_headers, claim_reference="CLM-1", incident_at=_ago(days=40)
    )
    after_cut = [
        await check(client, claims_headers, claim_reference=f"CLM-{n}", incident_at=_ago(days=n))
        for n in (10, 5)
    ]
    await sweep(app, database).run_until_idle()  # the bind's own events change nothing
    assert await delivery_worker.run_until_idle() == 0

    await record_event(
        database,
        bound,
        EventKind.CANCELLED,
        NOW - timedelta(days=20),
        recorded_at=datetime.now(UTC),
        event_id="cancel-1",
    )
    assert await sweep(app, database).run_until_idle() == 1
    assert await delivery_worker.run_until_idle() == 2
    assert await sweep(app, database).run_until_idle() == 0
    assert await delivery_worker.run_until_idle() == 0

    assert all(d.verified_with == [created["secret"]] for d in receiver.deliveries)
    events = [decode_notification(d.body) for d in receiver.deliveries]
    assert all(isinstance(e, DecisionAffectedNotification) for e in events)
    assert len({d.webhook_id for d in receiver.deliveries}) == 2
    announced = {e.data.decision_id: e.data for e in events}  # type: ignore[union-attr]
    assert set(announced) == {d["receipt_id"] for d in after_cut}
    assert before_cut["receipt_id"] not in announced
    for decision in after_cut:
        data = announced[decision["receipt_id"]]
        assert data.seller_id == "s-1"
        assert data.claim_reference == decision["claim_reference"]
        assert data.outcome == decision["decision"] == "exempt"
        assert data.outcome_now == "not_exempt"
        assert data.policy_event_id == "cancel-1"


async def test_a_reinstatement_is_announced_as_the_decision_back_to_its_own(
    app: Litestar,
    database: Database,
    client: Client,
    admin_headers: Headers,
    claims_headers: Headers,
    bound: str,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    await register(client, admin_headers, receiver.url, event_types=["coverage.decision_affected"])
    decision = await check(client, claims_headers)
    cut = NOW - timedelta(days=20)
    for kind, event_id in ((EventKind.CANCELLED, "c"), (EventKind.REINSTATED, "r")):
        await record_event(
            database, bound, kind, cut, recorded_at=datetime.now(UTC), event_id=event_id
        )
        await sweep(app, database).run_until_idle()
    await delivery_worker.run_until_idle()

    outcomes = [
        (e["data"]["policy_event_id"], e["data"]["outcome"], e["data"]["outcome_now"])
        for e in (d.event for d in receiver.deliveries)
    ]
    assert sorted(outcomes) == [("c", "exempt", "not_exempt"), ("r", "exempt", "exempt")]
    assert {e["data"]["decision_id"] for e in (d.event for d in receiver.deliveries)} == {
        decision["receipt_id"]
    }


async def test_an_endpoint_of_another_seller_hears_nothing_of_these_decisions(
    app: Litestar,
    database: Database,
    client: Client,
    admin_headers: Headers,
    claims_headers: Headers,
    bound: str,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    theirs = await start_receiver()
    ours = await start_receiver()
    await register(client, admin_headers, theirs.url, seller_id="s-2")
    await register(client, admin_headers, ours.url, seller_id="s-1")
    await check(client, claims_headers)
    await record_event(
        database,
        bound,
        EventKind.CANCELLED,
        NOW - timedelta(days=20),
        recorded_at=datetime.now(UTC),
        event_id="cancel-2",
    )
    await sweep(app, database).run_until_idle()
    await delivery_worker.run_until_idle()
    assert theirs.deliveries == []
    assert sorted(d.event["type"] for d in ours.deliveries) == [
        "coverage.decision_affected",
        "policy.cancelled",
    ]


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()
