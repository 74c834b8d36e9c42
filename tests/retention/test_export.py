"""The audit export: a seller's trail as JSON lines that an auditor checks with SHA-256 alone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.audit.export import AuditExportService
from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from tests.retention.trail import Trail, build_trail

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
GENESIS = "0" * 64


@pytest.fixture
def key_for(database: Database) -> Callable[..., Awaitable[Headers]]:
    async def make(role: Role, seller_id: str | None = None) -> Headers:
        issued = await create_key(database, role, seller_id=seller_id)
        return {"Authorization": f"Bearer {issued.secret}"}

    return make


@pytest.fixture
async def trail(database: Database) -> Trail:
    return await build_trail(database)


async def export(client: Client, seller_id: str, headers: Headers) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/sellers/{seller_id}/audit-export", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def check_chain(lines: list[dict[str, Any]]) -> None:
    """What an auditor does: each line's hash from its predecessor's and its content."""
    prev_hash = GENESIS
    for position, line in enumerate(lines, start=1):
        assert line["chain_position"] == position
        assert line["prev_hash"] == prev_hash
        digest = hashlib.sha256((line["prev_hash"] + "\n" + line["content"]).encode()).hexdigest()
        assert digest == line["row_hash"]
        prev_hash = line["row_hash"]


async def test_the_export_lists_events_then_receipts_then_marks_each_chain_checking_by_hash(
    client: Client, admin_headers: Headers, trail: Trail
) -> None:
    lines = await export(client, "s-1", admin_headers)

    kinds = [line["record"] for line in lines]
    assert kinds == (
        ["policy_event"] * trail.events
        + ["decision_receipt"] * trail.receipts
        + ["decision_effect"] * trail.effects
    )
    assert {line["seller_id"] for line in lines} == {"s-1"}
    events = [line for line in lines if line["record"] == "policy_event"]
    receipts = [line for line in lines if line["record"] == "decision_receipt"]
    check_chain(events)
    check_chain(receipts)
    # The content is the event itself and the receipt's document, readable as JSON.
    assert [json.loads(e["content"])["event_id"] for e in events] == [e["event_id"] for e in events]
    assert [json.loads(r["content"])["id"] for r in receipts] == [r["receipt_id"] for r in receipts]
    mark = lines[-1]
    assert mark["receipt_id"] == receipts[0]["receipt_id"]
    assert mark["event_id"] in {e["event_id"] for e in events}


async def test_an_export_read_in_small_pages_is_the_same_export(
    database: Database, trail: Trail
) -> None:
    whole = [r async for page in AuditExportService(database).records("s-1") for r in page]
    paged = [
        r async for page in AuditExportService(database, page_size=2).records("s-1") for r in page
    ]
    assert paged == whole
    assert len(whole) == trail.events + trail.receipts + trail.effects


async def test_a_seller_exports_its_own_trail_and_the_claims_role_any(
    client: Client, key_for: Callable[..., Awaitable[Headers]], trail: Trail
) -> None:
    own = await export(client, "s-2", await key_for(Role.SELLER, "s-2"))
    assert [line["record"] for line in own] == ["policy_event", "policy_event", "decision_receipt"]
    check_chain(own[:2])
    claims = await export(client, "s-1", await key_for(Role.CLAIMS))
    assert len(claims) == trail.events + trail.receipts + trail.effects


async def test_a_seller_key_cannot_export_another_sellers_trail(
    client: Client, key_for: Callable[..., Awaitable[Headers]], trail: Trail
) -> None:
    response = await client.get(
        "/v1/sellers/s-1/audit-export", headers=await key_for(Role.SELLER, "s-2")
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "row_hash" not in response.text  # a problem document, nothing of the trail


async def test_a_seller_with_no_trail_exports_an_empty_body(
    client: Client, admin_headers: Headers, trail: Trail
) -> None:
    response = await client.get("/v1/sellers/s-9/audit-export", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.content == b""


async def test_the_document_describes_the_export_as_json_lines(
    client: Client, admin_headers: Headers, database: Database
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operation = document["paths"]["/v1/sellers/{seller_id}/audit-export"]["get"]
    assert operation["operationId"] == "exportSellerAuditTrail"
    assert "application/x-ndjson" in operation["responses"]["200"]["content"]
    assert "403" in operation["responses"]
