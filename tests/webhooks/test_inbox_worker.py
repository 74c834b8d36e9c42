"""The inbox worker: order of occurrence, waiting for predecessors, retries with backoff, leases,
and admin re-processing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from accelerator.infra.database import Database
from accelerator.server import runtime_of
from accelerator.webhooks import worker as worker_module
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.worker import InboxWorker, retry_delay
from tests.webhooks.callbacks import bound, declined, policy_change, quoted, signed_headers
from tests.webhooks.conftest import BIND_ID, SUBMISSION, policy_event_count

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
URL = "/v1/webhooks/insurers/meridian"


async def deliver(client: Client, body: bytes, msg_id: str | None = None) -> dict[str, Any]:
    response = await client.post(URL, content=body, headers=signed_headers(body, msg_id=msg_id))
    assert response.status_code == 200, response.text
    ack: dict[str, Any] = response.json()
    return ack


async def statuses(database: Database) -> list[tuple[str, int]]:
    async with database.reading() as session:
        rows = await session.execute(
            select(InboxEvent.status, InboxEvent.attempts).order_by(InboxEvent.id)
        )
        return [(status, attempts) for status, attempts in rows.all()]


async def quote_view(client: Client, headers: Headers, request_id: str) -> dict[str, Any]:
    view: dict[str, Any] = (
        await client.get(f"/v1/quote-requests/{request_id}", headers=headers)
    ).json()
    return view


# --- order of occurrence ---------------------------------------------------------------------


async def test_a_decline_that_happened_later_wins_over_an_earlier_offer_arriving_after_it(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_quote: str
) -> None:
    await deliver(client, declined(SUBMISSION, occurred_at="2026-11-26T18:05:00Z", seq=2))
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    await worker.run_until_idle()

    view = await quote_view(client, admin_headers, pending_quote)
    [meridian] = view["outcomes"]
    assert meridian["status"] == "declined"
    assert view["offers"] == []
    assert [s for s, _ in await statuses(worker.db)] == ["applied", "applied"]


async def test_a_later_decline_withdraws_the_offers_of_an_earlier_quote(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_quote: str
) -> None:
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    await worker.run_until_idle()
    assert len((await quote_view(client, admin_headers, pending_quote))["offers"]) == 1

    await deliver(client, declined(SUBMISSION, occurred_at="2026-11-26T18:05:00Z", seq=2))
    await worker.run_until_idle()

    view = await quote_view(client, admin_headers, pending_quote)
    assert view["outcomes"][0]["status"] == "declined"
    assert view["offers"] == []


async def test_a_revised_quote_replaces_the_earlier_one_whatever_the_arrival_order(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_quote: str
) -> None:
    revised = quoted(SUBMISSION, occurred_at="2026-11-26T18:09:00Z", seq=5, premium_minor=150000)
    original = quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1)
    await deliver(client, revised)
    await deliver(client, original)
    await worker.run_until_idle()

    [offer] = (await quote_view(client, admin_headers, pending_quote))["offers"]
    assert offer["offer"]["premium"]["amount"] == "1500.00"


# --- waiting for a predecessor -----------------------------------------------------------------


async def test_a_cancellation_waits_for_its_policy_and_is_applied_when_the_bind_arrives(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_bind: str
) -> None:
    cancel = policy_change(
        "policy.cancelled", "2027-03-01T08:01:00Z", occurred_at="2027-02-20T00:00:00Z", seq=9,
        reason="non-payment",
    )  # fmt: skip
    await deliver(client, cancel)
    await worker.run_until_idle()
    # (A slow machine may have tried it once more: its first retry is due within a second.)
    assert [status for status, _ in await statuses(worker.db)] == ["parked"]

    await deliver(client, bound(BIND_ID, occurred_at="2026-11-26T18:10:00Z", seq=4))
    await worker.run_until_idle()  # the bind wakes the parked cancellation: no waiting

    [(cancel_status, cancel_attempts), bind_row] = await statuses(worker.db)
    assert (cancel_status, bind_row) == ("applied", ("applied", 1))
    assert cancel_attempts >= 2
    document = await the_policy(client, admin_headers)
    assert "cancelled" in [event["kind"] for event in document["events"]]


# Every order of a policy's deliveries, one of them repeated, ends in the same registry state
# and the same coverage decisions: bound for 2025-06-01..2026-06-01, renewed without a gap to
# 2027-06-01, cancelled from 2026-10-01.
EVENTS = ("bound", "renewed", "cancelled", "cancelled-again")
#: Every order of those four deliveries. "cancelled-again" is the same delivery as "cancelled"
#: (same body and message id), so two orders that only swap them send the same sequence: only
#: the one with "cancelled" first is run (12 orders, not 24 of which 12 repeated another).
ORDERS = [
    order
    for order in itertools.permutations(EVENTS)
    if order.index("cancelled") < order.index("cancelled-again")
]


def _body(name: str) -> tuple[bytes, str]:
    if name == "bound":
        body = bound(
            BIND_ID, occurred_at="2025-05-20T08:00:00Z", seq=1,
            effective_at="2025-06-01T07:01:00Z", expires_at="2026-06-01T07:01:00Z",
        )  # fmt: skip
        return body, "msg_bound"
    if name == "renewed":
        body = policy_change(
            "policy.renewed", "2026-06-01T07:01:00Z", occurred_at="2026-05-01T00:00:00Z", seq=2,
            expiresAt="2027-06-01T07:01:00Z",
        )  # fmt: skip
        return body, "msg_renewed"
    body = policy_change(
        "policy.cancelled", "2026-10-01T07:01:00Z", occurred_at="2026-09-15T00:00:00Z", seq=3,
        reason="insured request",
    )  # fmt: skip
    return body, "msg_cancelled"  # "cancelled-again" is the same delivery, redelivered


async def the_policy(client: Client, headers: Headers) -> dict[str, Any]:
    listed = (await client.get("/v1/sellers/s-1/policies", headers=headers)).json()
    [policy] = listed
    document: dict[str, Any] = (
        await client.get(f"/v1/policies/{policy['id']}", headers=headers)
    ).json()
    return document


async def decide(client: Client, headers: Headers, incident_at: str) -> dict[str, Any]:
    check = {
        "seller_id": "s-1",
        "incident_at": incident_at,
        "product_category": "electronics/power-banks",
        "marketplace": "US",
        "claim_amount": {"amount": "400.00", "currency": "USD"},
    }
    response = await client.post("/v1/coverage/checks", json=check, headers=headers)
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()
    return decision


@pytest.mark.parametrize("order", ORDERS, ids="-".join)
async def test_any_arrival_order_with_duplicates_gives_the_same_policy_and_decisions(
    client: Client,
    admin_headers: Headers,
    worker: InboxWorker,
    pending_bind: str,
    order: tuple[str, ...],
) -> None:
    bodies = {name: _body(name) for name in EVENTS}
    for name in order:
        body, msg_id = bodies[name]
        await deliver(client, body, msg_id)
        await worker.run_until_idle()
    # Whatever waited for the bind has been woken by it.
    assert {s for s, _ in await statuses(worker.db)} == {"applied"}

    document = await the_policy(client, admin_headers)
    assert sorted(e["kind"] for e in document["events"]) == [
        "cancelled",
        "issued",
        "renewed",
        "verified",
    ]
    assert document["in_force_now"] is False
    assert await policy_event_count(worker.db) == 4
    in_renewal = await decide(client, admin_headers, "2026-08-01T12:00:00Z")
    after_cancel = await decide(client, admin_headers, "2026-10-15T12:00:00Z")
    assert in_renewal["decision"] == "exempt", in_renewal["reasons"]
    assert after_cancel["decision"] == "not_exempt"
    assert "policy_cancelled" in [r["code"] for r in after_cancel["reasons"]]


# --- failures, backoff, leases ----------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap() -> None:
    delays = [retry_delay(n, base=2.0, cap=300.0) for n in range(1, 12)]
    assert 1.0 <= delays[0] <= 2.0
    assert 8.0 <= delays[3] <= 16.0
    assert all(delay <= 300.0 for delay in delays)
    assert delays[-1] >= 150.0


async def test_a_failing_event_keeps_its_error_and_is_retried_later_with_backoff(
    client: Client,
    worker: InboxWorker,
    pending_quote: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_: Any) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(worker_module, "apply_event", broken)
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    before = datetime.now(UTC)
    await worker.run_until_idle()
    async with worker.db.reading() as session:
        row = await session.scalar(select(InboxEvent))
    assert row is not None
    assert (row.status, row.attempts, row.error) == ("retrying", 1, "RuntimeError: database hiccup")
    assert row.next_attempt_at >= before + timedelta(seconds=1)
    assert await worker.run_until_idle() == 0  # not due yet

    monkeypatch.undo()
    async with worker.db.writing() as session:  # time passes
        await session.execute(update(InboxEvent).values(next_attempt_at=datetime.now(UTC)))
    await worker.run_until_idle()
    assert await statuses(worker.db) == [("applied", 2)]


async def test_a_worker_that_died_holding_a_delivery_is_taken_over_after_its_lease(
    client: Client,
    admin_headers: Headers,
    app: Litestar,
    worker: InboxWorker,
    pending_quote: str,
) -> None:
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    dead = InboxWorker(
        worker.db, runtime_of(app).services.partners, owner="dead-worker", lease_seconds=30
    )
    [claimed] = await dead.claim()  # ... and the process is killed here, mid-event

    assert await worker.run_until_idle() == 0  # its lease still holds
    async with worker.db.writing() as session:  # the lease runs out
        await session.execute(
            update(InboxEvent).values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await worker.run_until_idle() == 1
    assert await dead.process(claimed) == "lost"  # had it woken up, it must not apply it again

    assert await statuses(worker.db) == [("applied", 2)]
    assert len((await quote_view(client, admin_headers, pending_quote))["offers"]) == 1


async def test_a_worker_whose_lease_was_taken_over_cannot_apply_or_settle_the_delivery(
    client: Client, app: Litestar, worker: InboxWorker, pending_quote: str
) -> None:
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    slow = InboxWorker(
        worker.db, runtime_of(app).services.partners, owner="slow-worker", lease_seconds=30
    )
    [claimed] = await slow.claim()
    async with worker.db.writing() as session:
        await session.execute(
            update(InboxEvent).values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await worker.run_until_idle() == 1  # taken over and applied

    # The slow worker, past its first read, reaches the point of applying and of settling.
    async with worker.db.writing() as session:
        with pytest.raises(worker_module.LeaseLost):
            await slow._hold_lease(session, claimed)
    async with worker.db.reading() as session:
        row = await session.get(InboxEvent, claimed)
    assert row is not None
    assert await slow._settle(row, "failed", "too late") == "lost"
    assert await statuses(worker.db) == [("applied", 2)]


async def test_an_adapter_that_raises_leaves_the_delivery_retrying_not_stuck(
    client: Client,
    app: Litestar,
    worker: InboxWorker,
    pending_quote: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: Any) -> list[Any]:
        raise KeyError("a bug in the adapter")

    monkeypatch.setattr(
        runtime_of(app).services.partners["meridian"].adapter, "parse_events", broken
    )
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    await worker.run_until_idle()
    assert await statuses(worker.db) == [("retrying", 1)]


async def test_a_parked_delivery_waits_however_often_it_is_woken_but_not_forever(
    client: Client, worker: InboxWorker
) -> None:
    cancel = policy_change(
        "policy.cancelled", "2027-03-01T08:01:00Z", occurred_at="2027-02-20T00:00:00Z", seq=9,
    )  # fmt: skip
    await deliver(client, cancel)
    async with worker.db.writing() as session:  # woken a hundred times already
        await session.execute(update(InboxEvent).values(attempts=100))
    await worker.run_until_idle()
    assert [s for s, _ in await statuses(worker.db)] == ["parked"]

    async with worker.db.writing() as session:  # a day later, nothing has come
        await session.execute(
            update(InboxEvent).values(
                received_at=datetime.now(UTC) - timedelta(hours=25),
                next_attempt_at=datetime.now(UTC),
            )
        )
    await worker.run_until_idle()
    async with worker.db.reading() as session:
        row = await session.scalar(select(InboxEvent))
    assert row is not None
    assert row.status == "failed"
    assert row.error is not None
    assert row.error.startswith("predecessor never arrived")


async def test_a_later_answer_does_not_withdraw_the_offer_being_bound(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_bind: str
) -> None:
    await deliver(client, declined(SUBMISSION, occurred_at="2099-01-01T00:00:00Z", seq=99))
    await worker.run_until_idle()

    view = await quote_view(client, admin_headers, pending_bind)
    assert view["outcomes"][0]["status"] == "offered"
    assert [offer["status"] for offer in view["offers"]] == ["open"]


async def test_partner_sequences_beyond_32_bits_are_kept(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_quote: str
) -> None:
    millis = 1_732_640_000_000  # a partner numbering its events in epoch milliseconds
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=millis))
    await worker.run_until_idle()
    assert await statuses(worker.db) == [("applied", 1)]


# --- admin re-processing ------------------------------------------------------------------------


async def test_admins_reprocess_one_delivery_or_a_time_range(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_quote: str
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    first = await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    await deliver(client, b'{"not": "a meridian envelope"}')
    await worker.run_until_idle()

    again = await client.post(
        f"/v1/admin/webhook-inbox/{first['inbox_id']}/reprocess", headers=admin_headers
    )
    assert again.status_code == 202
    assert again.json()["status"] == "received"
    window = {"received_from": start.isoformat(), "received_to": datetime.now(UTC).isoformat()}
    ranged = await client.post(
        "/v1/admin/webhook-inbox/reprocess",
        json={**window, "status": "failed"},
        headers=admin_headers,
    )
    assert ranged.json() == {"requeued": 1}
    await worker.run_until_idle()

    # Re-processing starts the count again: the attempts that gave up do not count.
    assert await statuses(worker.db) == [("applied", 1), ("failed", 1)]
    assert len((await quote_view(client, admin_headers, pending_quote))["offers"]) == 1


async def test_an_empty_reprocess_range_is_refused_naming_the_field(
    client: Client, admin_headers: Headers
) -> None:
    now = datetime.now(UTC).isoformat()
    response = await client.post(
        "/v1/admin/webhook-inbox/reprocess",
        json={"received_from": now, "received_to": now},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "received_to"


async def test_reprocessing_an_unknown_delivery_is_a_404(
    client: Client, admin_headers: Headers
) -> None:
    response = await client.post("/v1/admin/webhook-inbox/999/reprocess", headers=admin_headers)
    assert response.status_code == 404
