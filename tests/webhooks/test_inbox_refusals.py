"""Every refusal of the webhook endpoints answers the same problem document, whether the
endpoint or the service refuses: status, code, title and detail pinned here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from accelerator.infra.database import Database
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.service import MAX_BODY_BYTES, WebhookService
from tests.webhooks.callbacks import quoted, signed_headers
from tests.webhooks.conftest import SUBMISSION

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
URL = "/v1/webhooks/insurers/meridian"
INBOX = "/v1/admin/webhook-inbox"


def problem(response: Any) -> tuple[int, str, str, str | None]:
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    return response.status_code, body["code"], body["title"], body.get("detail")


async def a_stored_delivery(client: Client) -> int:
    body = quoted(SUBMISSION, occurred_at="2026-11-26T18:00:00Z", seq=1)
    response = await client.post(URL, content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text
    inbox_id: int = response.json()["inbox_id"]
    return inbox_id


async def test_a_delivery_for_an_insurer_not_configured_is_a_404(client: Client) -> None:
    body = b"{}"
    response = await client.post("/v1/webhooks/insurers/nobody", content=body)
    assert problem(response) == (
        404,
        "provider_not_found",
        "Provider not found",
        "No insurer 'nobody' is configured.",
    )


async def test_a_body_over_the_cap_is_a_413_from_the_service_too(
    client: Client, app: Litestar
) -> None:
    from accelerator.server import runtime_of

    webhooks: WebhookService = runtime_of(app).services.webhooks
    body = b"x" * (MAX_BODY_BYTES + 1)
    with pytest.raises(Exception, match="At most") as refused:
        await webhooks.receive("meridian", signed_headers(body), body)
    error: Any = refused.value
    assert (error.code, error.title, error.detail) == (
        "payload_too_large",
        "Webhook body too large",
        f"At most {MAX_BODY_BYTES} bytes.",
    )


async def test_signature_and_header_refusals_keep_their_titles(client: Client) -> None:
    body = quoted(SUBMISSION, occurred_at="2026-11-26T18:00:00Z", seq=1)
    tampered = await client.post(URL, content=body + b" ", headers=signed_headers(body))
    headers = signed_headers(body)
    del headers["webhook-id"]
    missing = await client.post(URL, content=body, headers=headers)

    assert problem(tampered)[:3] == (401, "bad_webhook_signature", "Webhook signature not valid")
    assert problem(missing)[:3] == (
        400,
        "bad_webhook_headers",
        "Webhook headers missing or malformed",
    )


async def test_an_unknown_inbox_id_is_a_404(client: Client, admin_headers: Headers) -> None:
    response = await client.get(f"{INBOX}/999", headers=admin_headers)
    reprocess = await client.post(f"{INBOX}/999/reprocess", headers=admin_headers)
    expected = (404, "inbox_id_not_found", "Inbox id not found", "No stored delivery 999.")
    assert problem(response) == expected
    assert problem(reprocess) == expected


async def test_a_delivery_a_worker_holds_cannot_be_reprocessed(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    inbox_id = await a_stored_delivery(client)
    async with database.writing() as session:
        await session.execute(
            update(InboxEvent).values(
                status="processing",
                lease_owner="another-worker",
                lease_expires_at=datetime.now(UTC) + timedelta(minutes=1),
            )
        )
    response = await client.post(f"{INBOX}/{inbox_id}/reprocess", headers=admin_headers)
    assert problem(response) == (
        409,
        "delivery_in_progress",
        "Delivery in progress",
        "A worker holds it right now.",
    )


async def test_an_empty_reprocessing_range_is_a_422_naming_its_end(
    client: Client, admin_headers: Headers
) -> None:
    at = "2026-11-26T18:00:00Z"
    response = await client.post(
        f"{INBOX}/reprocess", json={"received_from": at, "received_to": at}, headers=admin_headers
    )
    assert problem(response) == (
        422,
        "validation_error",
        "The request is not valid",
        "Invalid field(s): received_to",
    )
    assert response.json()["errors"] == [
        {
            "field": "received_to",
            "code": "range_empty",
            "message": "received_to must be after received_from.",
        }
    ]


async def test_the_inbox_lists_and_requeues_by_status(
    client: Client, admin_headers: Headers
) -> None:
    inbox_id = await a_stored_delivery(client)
    received = await client.get(INBOX, params={"status": "received"}, headers=admin_headers)
    failed = await client.get(INBOX, params={"status": "failed"}, headers=admin_headers)
    unknown = await client.get(INBOX, params={"status": "lost"}, headers=admin_headers)

    assert [entry["id"] for entry in received.json()] == [inbox_id]
    assert failed.json() == []
    assert problem(unknown)[:2] == (422, "validation_error")
