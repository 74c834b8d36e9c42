"""Deliveries to a real local receiver: the outbox written with the fact, signatures verified by
the standardwebhooks package, rotation, retries on the schedule, 410, replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from accelerator.infra.database import Database
from accelerator.notifications.models import AttemptRow, EndpointRow, MessageRow
from accelerator.notifications.worker import DeliveryWorker
from accelerator.webhooks.worker import InboxWorker
from schemas import decode_notification
from tests.notifications.conftest import Client, Clock, Headers, register
from tests.webhooks.callbacks import bound, policy_change, signed_headers
from tests.webhooks.conftest import BIND_ID

pytestmark = pytest.mark.anyio
INBOUND = "/v1/webhooks/insurers/meridian"
ENDPOINTS = "/v1/admin/webhook-endpoints"


async def deliver_inbound(client: Client, body: bytes) -> None:
    response = await client.post(INBOUND, content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text


async def bind_then_cancel(client: Client, inbox: InboxWorker) -> None:
    """Meridian binds BIND_ID, then cancels it back-dated; both applied."""
    await deliver_inbound(client, bound(BIND_ID, occurred_at="2026-11-26T18:10:00Z", seq=3))
    await inbox.run_until_idle()
    cancel = policy_change(
        "policy.cancelled",
        "2026-12-01T08:01:00Z",
        occurred_at="2026-12-02T00:00:00Z",
        seq=9,
        reason="non-payment",
    )
    await deliver_inbound(client, cancel)
    await inbox.run_until_idle()


async def count(db: Database, model: Any) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_cancellation_applied_from_an_insurer_webhook_is_delivered_once_signed(
    client: Client,
    admin_headers: Headers,
    pending_bind: str,
    inbox_worker: InboxWorker,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    created = await register(client, admin_headers, receiver.url, event_types=["policy.cancelled"])
    receiver.secrets.append(created["secret"])

    await bind_then_cancel(client, inbox_worker)
    assert await delivery_worker.run_until_idle() == 1

    [delivery] = receiver.deliveries
    assert delivery.verified_with == [created["secret"]]
    event = decode_notification(delivery.body)
    assert event.id == delivery.webhook_id
    assert delivery.event["type"] == "policy.cancelled"
    assert delivery.event["data"]["reason"] == "non-payment"
    assert delivery.event["data"]["back_dated"] is True
    assert delivery.event["data"]["seller_id"] == "s-1"


async def test_every_policy_event_type_an_endpoint_wants_is_sent_and_no_other(
    client: Client,
    admin_headers: Headers,
    pending_bind: str,
    inbox_worker: InboxWorker,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    database: Database,
) -> None:
    everything = await start_receiver()
    await register(client, admin_headers, everything.url)
    other_seller = await start_receiver()
    await register(client, admin_headers, other_seller.url, seller_id="s-2")
    other_market = await start_receiver()
    await register(client, admin_headers, other_market.url, marketplace="UK")
    same_market = await start_receiver()
    await register(client, admin_headers, same_market.url, marketplace="US")

    await bind_then_cancel(client, inbox_worker)
    await delivery_worker.run_until_idle()

    types = [d.event["type"] for d in everything.deliveries]
    assert sorted(types) == ["policy.bound", "policy.cancelled", "policy.verified"]
    assert [d.event["type"] for d in same_market.deliveries] == types
    assert other_seller.deliveries == []
    assert other_market.deliveries == []


async def test_with_no_endpoint_a_policy_event_writes_no_message(
    client: Client, pending_bind: str, inbox_worker: InboxWorker, database: Database
) -> None:
    await bind_then_cancel(client, inbox_worker)
    assert await count(database, MessageRow) == 0


async def test_during_a_rotation_receivers_with_the_old_and_the_new_secret_both_verify(
    client: Client,
    admin_headers: Headers,
    pending_bind: str,
    inbox_worker: InboxWorker,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
) -> None:
    old_receiver = await start_receiver(path="/old")
    created = await register(client, admin_headers, old_receiver.url)
    old_secret = created["secret"]
    endpoint_id = created["endpoint"]["id"]
    rotated = await client.post(f"{ENDPOINTS}/{endpoint_id}/rotate-secret", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret
    assert rotated.json()["endpoint"]["rotating_until"]
    old_receiver.secrets.append(old_secret)

    await bind_then_cancel(client, inbox_worker)
    await delivery_worker.run_until_idle()

    assert old_receiver.deliveries
    for delivery in old_receiver.deliveries:
        assert delivery.verified_with == [old_secret]
        assert len(delivery.headers["webhook-signature"].split(" ")) == 2
        # The receiver that already has the new secret verifies the same delivery.
        import standardwebhooks

        standardwebhooks.Webhook(new_secret).verify(delivery.body, delivery.headers)


async def test_a_failing_receiver_gets_the_message_on_the_schedule_once_it_recovers(
    client: Client,
    admin_headers: Headers,
    pending_bind: str,
    inbox_worker: InboxWorker,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
    database: Database,
) -> None:
    receiver = await start_receiver()
    created = await register(client, admin_headers, receiver.url, event_types=["policy.cancelled"])
    receiver.secrets.append(created["secret"])
    receiver.answers = [500, 503]
    await bind_then_cancel(client, inbox_worker)

    assert await delivery_worker.run_until_idle() == 1  # at once: 500
    clock.advance(seconds=4)
    assert await delivery_worker.run_until_idle() == 0  # not due before 5 s
    clock.advance(seconds=1)
    assert await delivery_worker.run_until_idle() == 1  # 5 s: 503
    clock.advance(seconds=299)
    assert await delivery_worker.run_until_idle() == 0
    clock.advance(seconds=1)
    assert await delivery_worker.run_until_idle() == 1  # 5 min: delivered

    assert [d.webhook_id for d in receiver.deliveries] == [receiver.deliveries[0].webhook_id] * 3
    assert all(d.verified_with == [created["secret"]] for d in receiver.deliveries)
    endpoint_id = created["endpoint"]["id"]
    [message] = (
        await client.get(f"{ENDPOINTS}/{endpoint_id}/messages", headers=admin_headers)
    ).json()
    assert (message["status"], message["attempts"]) == ("delivered", 3)
    attempts = (
        await client.get(
            f"{ENDPOINTS}/{endpoint_id}/messages/{message['id']}/attempts", headers=admin_headers
        )
    ).json()
    assert [a["status_code"] for a in attempts] == [500, 503, 200]
    assert all(a["latency_ms"] >= 0 for a in attempts)
    endpoint = (await client.get(f"{ENDPOINTS}/{endpoint_id}", headers=admin_headers)).json()
    assert endpoint["failing_since"] is None
    assert endpoint["enabled"] is True


async def test_a_410_disables_the_endpoint_and_its_other_messages_wait(
    client: Client,
    admin_headers: Headers,
    pending_bind: str,
    inbox_worker: InboxWorker,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    database: Database,
) -> None:
    receiver = await start_receiver()
    created = await register(client, admin_headers, receiver.url)
    receiver.answers = [410]
    delivery_worker.batch_size = 1
    await bind_then_cancel(client, inbox_worker)

    await delivery_worker.run_until_idle()

    assert len(receiver.deliveries) == 1
    endpoint_id = created["endpoint"]["id"]
    endpoint = (await client.get(f"{ENDPOINTS}/{endpoint_id}", headers=admin_headers)).json()
    assert endpoint["enabled"] is False
    assert "410 Gone" in endpoint["disabled_reason"]
    messages = (
        await client.get(f"{ENDPOINTS}/{endpoint_id}/messages", headers=admin_headers)
    ).json()
    assert sorted(m["status"] for m in messages) == ["failed", "pending", "pending"]

    # Enabled again, it gets what waited (the 410'd one needs a replay).
    enabled = await client.patch(
        f"{ENDPOINTS}/{endpoint_id}", json={"enabled": True}, headers=admin_headers
    )
    assert enabled.status_code == 200
    assert enabled.json()["disabled_reason"] is None
    await delivery_worker.run_until_idle()
    assert len(receiver.deliveries) == 3


async def test_a_replayed_message_is_sent_again_under_the_same_webhook_id(
    client: Client,
    admin_headers: Headers,
    pending_bind: str,
    inbox_worker: InboxWorker,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    created = await register(client, admin_headers, receiver.url, event_types=["policy.cancelled"])
    endpoint_id = created["endpoint"]["id"]
    await bind_then_cancel(client, inbox_worker)
    await delivery_worker.run_until_idle()
    [message] = (
        await client.get(f"{ENDPOINTS}/{endpoint_id}/messages", headers=admin_headers)
    ).json()

    replayed = await client.post(
        f"{ENDPOINTS}/{endpoint_id}/messages/{message['id']}/replay", headers=admin_headers
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "pending"
    clock.advance(seconds=1)
    await delivery_worker.run_until_idle()

    since = (clock.now - timedelta(days=1)).isoformat()
    again = await client.post(
        f"{ENDPOINTS}/{endpoint_id}/replay", json={"since": since}, headers=admin_headers
    )
    assert again.json() == {"replayed": 1}
    clock.advance(seconds=1)
    await delivery_worker.run_until_idle()

    ids = {d.webhook_id for d in receiver.deliveries}
    assert len(receiver.deliveries) == 3
    assert ids == {message["event_id"]}


async def test_an_endpoint_failing_for_five_days_is_disabled_with_the_reason(
    client: Client,
    admin_headers: Headers,
    pending_bind: str,
    inbox_worker: InboxWorker,
    delivery_worker: DeliveryWorker,
    start_receiver: Any,
    clock: Clock,
    database: Database,
) -> None:
    receiver = await start_receiver()
    created = await register(client, admin_headers, receiver.url, event_types=["policy.cancelled"])
    receiver.answers = [500] * 20
    await bind_then_cancel(client, inbox_worker)
    for _ in range(8):
        await delivery_worker.run_until_idle()
        clock.advance(hours=11)
    # Eight attempts over 32 h: the message failed, the endpoint is still enabled.
    async with database.reading() as session:
        endpoint = await session.get(EndpointRow, created["endpoint"]["id"])
        assert endpoint is not None
        assert endpoint.enabled
        assert endpoint.failing_since is not None
    assert await count(database, AttemptRow) == 8

    # Another event four days later fails too: five days of failures disable the endpoint.
    clock.advance(days=4)
    replay = await client.post(
        f"{ENDPOINTS}/{created['endpoint']['id']}/replay",
        json={"since": "2026-01-01T00:00:00Z"},
        headers=admin_headers,
    )
    assert replay.json() == {"replayed": 1}
    await delivery_worker.run_until_idle()
    view = (
        await client.get(f"{ENDPOINTS}/{created['endpoint']['id']}", headers=admin_headers)
    ).json()
    assert view["enabled"] is False
    assert view["disabled_reason"].startswith("every delivery failed since")
