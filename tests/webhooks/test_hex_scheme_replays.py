"""Replays under the hex-hmac-sha256 scheme of the ACORD-style partner: it signs the timestamp and
the body but no id, so a delivery is one message by what is signed, whatever ``webhook-id`` (or
none) a sender puts beside it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.coverage.repository import create_policy
from accelerator.infra.database import Database
from accelerator.webhooks.worker import InboxWorker
from schemas import PolicySource
from tests.compliance.factories import make_terms
from tests.webhooks.callbacks import hex_signed_headers

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
URL = "/v1/webhooks/insurers/acorn"
POLICY_NUMBER = "ACC-GL-2026-000123"


def cancellation(effective_at: str = "2026-12-20T08:01:00Z") -> bytes:
    """The partner's notice that POLICY_NUMBER is cancelled from ``effective_at``."""
    return (
        '<?xml version="1.0"?><ACORD><PolicyNotificationRq>'
        "<NotificationTypeCd>CANCEL</NotificationTypeCd>"
        f"<PolicyNumber>{POLICY_NUMBER}</PolicyNumber>"
        "<OccurredDtTm>2026-12-01T09:00:00Z</OccurredDtTm>"
        f"<EffectiveDtTm>{effective_at}</EffectiveDtTm><ReasonDesc>non-payment</ReasonDesc>"
        "</PolicyNotificationRq></ACORD>"
    ).encode()


@pytest.fixture
async def acorn_policy(database: Database, seller: str) -> str:
    """A policy Acorn (the ACORD-style partner) bound for the seller; its id."""
    terms = make_terms(policy_number=POLICY_NUMBER, insurer_name="Acorn Casualty Company")
    async with database.writing() as session:
        policy = await create_policy(
            session,
            seller_id=seller,
            terms=terms,
            source=PolicySource.BOUND,
            recorded_at=datetime.now(UTC),
            event_id=f"bind.{POLICY_NUMBER}",
            provider_id="acorn",
            verified=True,
        )
    return policy.id


async def deliver(client: Client, body: bytes, headers: Headers) -> dict[str, Any]:
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text
    ack: dict[str, Any] = response.json()
    return ack


async def inbox_size(client: Client, admin_headers: Headers) -> int:
    response = await client.get("/v1/admin/webhook-inbox", headers=admin_headers)
    assert response.status_code == 200, response.text
    return len(response.json())


async def cancellations(client: Client, admin_headers: Headers, policy_id: str) -> int:
    response = await client.get(f"/v1/policies/{policy_id}", headers=admin_headers)
    assert response.status_code == 200, response.text
    return sum(1 for event in response.json()["events"] if event["kind"] == "cancelled")


async def test_a_signed_notification_resent_under_forged_webhook_ids_is_stored_and_applied_once(
    client: Client,
    admin_headers: Headers,
    worker: InboxWorker,
    acorn_policy: str,
) -> None:
    body = cancellation()
    signed = hex_signed_headers(body)
    first = await deliver(client, body, signed | {"webhook-id": "acorn-msg-1"})
    # What anyone who captured that delivery can send within the five minutes, no secret needed:
    # other ids, no id, and the signed timestamp spelt another way (the same number).
    replays = [
        signed | {"webhook-id": "forged-1"},
        signed | {"webhook-id": "forged-2"},
        signed,
        signed | {"x-timestamp": f"+0{signed['x-timestamp']}"},
    ]
    answers = [await deliver(client, body, headers) for headers in replays]
    await worker.run_until_idle()
    after_applying = await deliver(client, body, signed | {"webhook-id": "forged-3"})

    assert first["duplicate"] is False
    status_url = f"/v1/partners/me/deliveries/{first['inbox_id']}"
    stored_first = {"inbox_id": first["inbox_id"], "duplicate": True, "status_url": status_url}
    assert answers == [stored_first | {"status": "received"}] * len(replays)
    assert after_applying == stored_first | {"status": "applied"}
    assert await worker.run_until_idle() == 0
    assert await inbox_size(client, admin_headers) == 1
    assert await cancellations(client, admin_headers, acorn_policy) == 1


async def test_a_notification_with_another_body_or_timestamp_is_a_new_message(
    client: Client,
    admin_headers: Headers,
    worker: InboxWorker,
    acorn_policy: str,
) -> None:
    body, now = cancellation(), int(time.time())
    same_id = {"webhook-id": "acorn-msg-1"}  # not signed: it does not make them one message
    first = await deliver(client, body, hex_signed_headers(body, timestamp=now) | same_id)
    later = await deliver(client, body, hex_signed_headers(body, timestamp=now + 1) | same_id)
    other_body = cancellation(effective_at="2026-12-24T08:01:00Z")
    other = await deliver(client, other_body, hex_signed_headers(other_body, timestamp=now))
    await worker.run_until_idle()

    assert [ack["duplicate"] for ack in (first, later, other)] == [False, False, False]
    assert len({ack["inbox_id"] for ack in (first, later, other)}) == 3
    assert await inbox_size(client, admin_headers) == 3
    assert await cancellations(client, admin_headers, acorn_policy) == 3


async def test_a_hex_signed_delivery_is_keyed_by_what_is_signed_not_by_its_webhook_id(
    client: Client, admin_headers: Headers
) -> None:
    body = cancellation()
    ack = await deliver(client, body, hex_signed_headers(body) | {"webhook-id": "x" * 300})

    response = await client.get(f"/v1/admin/webhook-inbox/{ack['inbox_id']}", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["webhook_id"].startswith("hex-hmac-sha256:")
