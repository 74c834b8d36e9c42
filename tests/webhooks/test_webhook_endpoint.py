"""POST /v1/webhooks/insurers/{provider_id}: Standard Webhooks verification, the durable inbox
and its answers, with deliveries signed by the independent `standardwebhooks` package."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.infra.database import Database
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.worker import InboxWorker
from tests.webhooks.callbacks import (
    OLD_SECRET,
    hex_signed_headers,
    policy_change,
    quoted,
    signed_headers,
)
from tests.webhooks.conftest import SUBMISSION

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
URL = "/v1/webhooks/insurers/meridian"


def a_quote() -> bytes:
    return quoted(SUBMISSION, occurred_at="2026-11-26T18:00:00Z", seq=1)


async def inbox(client: Client, admin_headers: dict[str, str], **params: Any) -> list[Any]:
    response = await client.get("/v1/admin/webhook-inbox", params=params, headers=admin_headers)
    assert response.status_code == 200, response.text
    entries: list[Any] = response.json()
    return entries


async def test_a_delivery_signed_by_the_standardwebhooks_library_is_stored_then_applied(
    client: Client,
    admin_headers: dict[str, str],
    worker: InboxWorker,
    pending_quote: str,
) -> None:
    body = a_quote()
    response = await client.post(URL, content=body, headers=signed_headers(body))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "received"
    assert response.json()["duplicate"] is False
    assert await worker.run_until_idle() == 1
    [entry] = await inbox(client, admin_headers)
    assert entry["status"] == "applied"
    assert entry["attempts"] == 1
    quote = (await client.get(f"/v1/quote-requests/{pending_quote}", headers=admin_headers)).json()
    [meridian] = [o for o in quote["outcomes"] if o["provider_id"] == "meridian"]
    assert meridian["status"] == "offered"
    assert len(quote["offers"]) == 1


@pytest.mark.parametrize("secret_name", ["old", "new"])
async def test_either_secret_of_a_rotation_is_accepted(
    client: Client, admin_headers: dict[str, str], secret_name: str
) -> None:
    body = a_quote()
    headers = signed_headers(body, secret=OLD_SECRET) if secret_name == "old" else None
    response = await client.post(URL, content=body, headers=headers or signed_headers(body))
    assert response.status_code == 200, response.text


async def test_one_valid_signature_among_several_passes(client: Client) -> None:
    body = a_quote()
    headers = signed_headers(body, msg_id="msg_multi")
    stale_entry = signed_headers(b"something else", msg_id="msg_multi")["webhook-signature"]
    headers["webhook-signature"] = f"{stale_entry} {headers['webhook-signature']}"
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text


async def test_a_tampered_body_is_refused_and_nothing_is_stored(
    client: Client, admin_headers: dict[str, str]
) -> None:
    body = a_quote()
    headers = signed_headers(body)
    response = await client.post(URL, content=body.replace(b"168000", b"1"), headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "bad_webhook_signature"
    assert await inbox(client, admin_headers) == []


async def test_a_signature_under_an_unknown_secret_is_refused(client: Client) -> None:
    body = a_quote()
    other = "whsec_" + "c29tZW9uZS1lbHNlcy1zZWNyZXQtOTk5OTk5OTk="
    response = await client.post(URL, content=body, headers=signed_headers(body, secret=other))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("skew_seconds", "expected"),
    [(-310, 401), (-290, 200), (290, 200), (310, 401)],
    ids=["stale", "just-in-the-past", "just-in-the-future", "future"],
)
async def test_timestamps_are_accepted_within_five_minutes_either_way(
    client: Client, skew_seconds: int, expected: int
) -> None:
    body = a_quote()
    headers = signed_headers(body, timestamp=time.time() + skew_seconds)
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == expected, response.text


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_a_missing_header_is_a_400_naming_it(client: Client, missing: str) -> None:
    body = a_quote()
    headers = signed_headers(body)
    del headers[missing]
    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_webhook_headers"


async def test_a_webhook_id_longer_than_we_store_is_a_400(
    client: Client, admin_headers: dict[str, str]
) -> None:
    body = a_quote()
    response = await client.post(URL, content=body, headers=signed_headers(body, msg_id="m" * 201))
    assert response.status_code == 400
    assert "webhook-id" in response.json()["detail"]
    assert await inbox(client, admin_headers) == []


async def test_a_timestamp_that_is_not_a_number_is_a_400(client: Client) -> None:
    body = a_quote()
    headers = signed_headers(body)
    headers["webhook-timestamp"] = "yesterday"
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 400


async def test_an_unknown_provider_is_a_404(client: Client) -> None:
    body = a_quote()
    response = await client.post(
        "/v1/webhooks/insurers/nobody", content=body, headers=signed_headers(body)
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_body_over_256_kib_is_a_413(client: Client, admin_headers: dict[str, str]) -> None:
    body = b'{"padding": "' + b"x" * (256 * 1024) + b'"}'
    response = await client.post(URL, content=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert await inbox(client, admin_headers) == []


async def test_an_authentic_but_unreadable_body_is_kept_and_marked_failed_not_retried(
    client: Client, admin_headers: dict[str, str], worker: InboxWorker
) -> None:
    body = b'{"eventType": "submission.quoted", "payload": "not an object"'
    response = await client.post(URL, content=body, headers=signed_headers(body))

    assert response.status_code == 200, response.text
    assert await worker.run_until_idle() == 1
    [entry] = await inbox(client, admin_headers, status="failed")
    assert entry["error"].startswith("unreadable event")
    assert entry["attempts"] == 1
    assert await worker.run_until_idle() == 0  # failed for good: not picked up again


async def test_a_repeated_webhook_id_is_acknowledged_and_applied_once(
    client: Client, admin_headers: dict[str, str], worker: InboxWorker, pending_quote: str
) -> None:
    body = a_quote()
    first = await client.post(URL, content=body, headers=signed_headers(body, msg_id="msg_1"))
    await worker.run_until_idle()
    again = await client.post(URL, content=body, headers=signed_headers(body, msg_id="msg_1"))

    assert first.status_code == again.status_code == 200
    assert again.json() == {
        "inbox_id": first.json()["inbox_id"],
        "status": "applied",
        "duplicate": True,
        "status_url": f"/v1/partners/me/deliveries/{first.json()['inbox_id']}",
    }
    assert await worker.run_until_idle() == 0
    quote = (await client.get(f"/v1/quote-requests/{pending_quote}", headers=admin_headers)).json()
    assert len(quote["offers"]) == 1


async def test_an_acknowledged_delivery_is_already_stored_and_due_at_once(
    client: Client, database: Database
) -> None:
    body = a_quote()
    before = datetime.now(UTC)
    response = await client.post(URL, content=body, headers=signed_headers(body, msg_id="msg_now"))
    after = datetime.now(UTC)

    assert response.status_code == 200, response.text
    # Read on a connection of its own: committed, not merely written, before the answer.
    async with database.reading() as session:
        row = await session.get(InboxEvent, response.json()["inbox_id"])
    assert row is not None
    assert (row.webhook_id, row.body, row.status, row.attempts) == ("msg_now", body, "received", 0)
    assert row.headers["webhook-id"] == "msg_now"
    assert before <= row.received_at <= after
    assert row.next_attempt_at == row.received_at


async def test_redeliveries_racing_each_other_store_the_delivery_once(
    client: Client, admin_headers: dict[str, str]
) -> None:
    body = a_quote()
    headers = signed_headers(body, msg_id="msg_raced")
    answers = await asyncio.gather(
        *(client.post(URL, content=body, headers=headers) for _ in range(8))
    )

    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.json()["inbox_id"] for a in answers}) == 1
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 7
    assert len(await inbox(client, admin_headers)) == 1


async def test_a_partner_with_the_hex_scheme_is_verified_by_its_own_scheme(
    client: Client, admin_headers: dict[str, str]
) -> None:
    body = (
        b'<?xml version="1.0"?><ACORD><PolicyNotificationRq>'
        b"<NotificationTypeCd>CANCEL</NotificationTypeCd><PolicyNumber>ACC-1</PolicyNumber>"
        b"<OccurredDtTm>2026-05-01T09:00:00Z</OccurredDtTm>"
        b"<EffectiveDtTm>2026-05-31T07:01:00Z</EffectiveDtTm>"
        b"</PolicyNotificationRq></ACORD>"
    )
    url = "/v1/webhooks/insurers/acorn"
    accepted = await client.post(url, content=body, headers=hex_signed_headers(body))
    tampered = await client.post(
        url, content=body.replace(b"ACC-1", b"ACC-2"), headers=hex_signed_headers(body)
    )
    standard = await client.post(url, content=body, headers=signed_headers(body))

    assert accepted.status_code == 200, accepted.text
    assert tampered.status_code == 401
    assert standard.status_code == 400  # the Standard Webhooks headers mean nothing to it
    assert len(await inbox(client, admin_headers)) == 1


async def test_a_cancellation_before_its_policy_is_parked_not_failed(
    client: Client, admin_headers: dict[str, str], worker: InboxWorker
) -> None:
    body = policy_change(
        "policy.cancelled", "2027-02-01T08:01:00Z", occurred_at="2027-01-20T00:00:00Z", seq=3,
        reason="non-payment",
    )  # fmt: skip
    await client.post(URL, content=body, headers=signed_headers(body))
    await worker.run_until_idle()

    [entry] = await inbox(client, admin_headers)
    assert entry["status"] == "parked"
    assert "no policy" in entry["error"]
    assert entry["next_attempt_at"] > entry["received_at"]
