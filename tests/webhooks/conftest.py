"""Webhook test set-up: a Meridian-style partner (Standard Webhooks, two secrets during a
rotation) and an ACORD-style one (hex HMAC), and an inbox worker the tests drive themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from accelerator.coverage.models import PolicyEventRow
from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import OfferRow, QuoteRequestRow
from accelerator.quoting.runner import record_request, record_result
from accelerator.server import runtime_of
from accelerator.settings import Settings
from accelerator.webhooks.worker import InboxWorker
from tests.api.conftest import power_bank_body
from tests.quoting.fakes import make_offer, make_request
from tests.webhooks.callbacks import HEX_SECRET, NEW_SECRET, OLD_SECRET

Client = AsyncTestClient[Litestar]
SUBMISSION = "MSI-SUB-000042"
BIND_ID = "MSI-BND-000042"
REQUEST_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    providers: dict[str, dict[str, Any]] = {
        "meridian": {
            "base_url": "http://meridian.invalid",
            "callback_secrets": [OLD_SECRET, NEW_SECRET],
        },
        "acorn": {
            "adapter": "acord",
            "base_url": "http://acorn.invalid",
            "callback_secrets": [HEX_SECRET],
        },
    }
    # The tests run the worker themselves, so what they assert does not race a background one.
    return msgspec.structs.replace(settings, providers=providers, inbox_worker="external")


@pytest.fixture
async def worker(client: Client, app: Litestar, database: Database) -> InboxWorker:
    # The test's own Database: the app's is bound to the test client's event loop.
    return InboxWorker(database, runtime_of(app).services.partners, owner="test-worker")


@pytest.fixture
async def seller(client: Client, admin_headers: dict[str, str]) -> str:
    response = await client.put(
        "/v1/sellers/s-1/profile", json=power_bank_body(), headers=admin_headers
    )
    assert response.status_code == 200, response.text
    return "s-1"


async def meridian_request(app: Litestar, database: Database, answer: InsurerResult) -> None:
    """Seller s-1's request REQUEST_ID, asked of Meridian alone, with Meridian's ``answer``."""
    await record_request(
        database,
        make_request(REQUEST_ID),
        {"meridian": runtime_of(app).services.partners["meridian"]},
        datetime.now(UTC) + timedelta(seconds=30),
    )
    await record_result(database, REQUEST_ID, answer)


@pytest.fixture
async def pending_quote(app: Litestar, database: Database, seller: str) -> str:
    """A quote request Meridian accepted as SUBMISSION and will answer by callback."""
    pending = InsurerResult(
        provider_id="meridian",
        insurer_name="Meridian",
        status="pending",
        quote_reference=SUBMISSION,
    )
    await meridian_request(app, database, pending)
    return REQUEST_ID


@pytest.fixture
async def pending_bind(app: Litestar, database: Database, seller: str) -> str:
    """A request whose offer Meridian is binding as BIND_ID (it answers by callback)."""
    offered = InsurerResult(
        provider_id="meridian",
        insurer_name="Meridian",
        status="offered",
        offers=[make_offer("meridian")],
        quote_reference=SUBMISSION,
    )
    await meridian_request(app, database, offered)
    db = database
    async with db.writing() as session:
        offer_id = await session.scalar(select(OfferRow.id))
        await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == REQUEST_ID)
            .values(status="bind_pending", bound_offer_id=offer_id, bind_reference=BIND_ID)
        )
    return REQUEST_ID


async def policy_event_kinds(db: Database) -> list[str]:
    async with db.reading() as session:
        rows = await session.scalars(
            select(PolicyEventRow.kind).order_by(PolicyEventRow.effective_at, PolicyEventRow.kind)
        )
        return list(rows.all())


async def policy_event_count(db: Database) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(PolicyEventRow)) or 0)
