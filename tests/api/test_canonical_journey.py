"""End to end with a configuration-only insurer: the service configured with nothing but the
sandbox's canonical-API insurer (``keystone``, adapter ``canonical``), given as the plain
settings a deployment writes. A seller is quoted by it, binds an offer, and the insurer's signed
canonical ``policy.cancelled`` event changes what the coverage check says after that date."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.insurers.partners import provider_settings
from accelerator.server import create_app, runtime_of
from accelerator.settings import Settings
from accelerator.webhooks.worker import InboxWorker
from bench.processes import free_port
from providers import signature_headers
from providers.sandbox import SandboxConfig, start_sandbox
from tests.api.conftest import power_bank_body

pytestmark = pytest.mark.anyio
SECRET = "whsec_" + "Y2Fub25pY2FsLWpvdXJuZXktdGVzdC1zZWNyZXQ="
Client = httpx.AsyncClient
Headers = dict[str, str]


def plain_settings(sandbox_url: str, hooks: str) -> dict[str, Any]:
    """What a deployment writes in ACCELERATOR_PROVIDERS (or [providers.keystone] in TOML)."""
    return {
        "keystone": {
            "adapter": "canonical",
            "base_url": f"{sandbox_url}/keystone",
            "api_key": "sandbox-keystone-key",
            "insurer_name": "Keystone Casualty Company",
            "callback_secrets": [SECRET],
            "callback_url": f"{hooks}/keystone",
            "appetite": {
                "marketplaces": ["US"],
                "categories": ["home"],
                "revenue_bands": [{"currency": "USD", "minimum": "0", "maximum": "40000000"}],
                "max_per_occurrence": "5000000",
            },
        }
    }


@pytest.fixture
async def service(database_url: str, database: Database) -> AsyncIterator[tuple[Client, Litestar]]:
    """The real service (uvicorn) on loopback, configured with keystone only, and a client."""
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox = await start_sandbox("127.0.0.1", 0, SandboxConfig(callback_secret=SECRET))
    hooks = f"{api_url}/v1/webhooks/insurers"
    # provider_settings() is how the service reads the setting: a deployment's plain values.
    assert set(provider_settings(plain_settings(sandbox.url, hooks))) == {"keystone"}
    settings = Settings(
        database_url=database_url,
        sandbox_enabled=False,
        providers=plain_settings(sandbox.url, hooks),
        # The test runs the inbox worker itself, so its assertions do not race a background one.
        inbox_worker="external",
        quote_deadline_seconds=5.0,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
            yield client, app
    finally:
        server.should_exit = True
        await task
        await sandbox.stop()


async def check(client: Client, headers: Headers, incident: datetime) -> str:
    response = await client.post(
        "/v1/coverage/checks",
        json={
            "seller_id": "s-1",
            "incident_at": incident.isoformat(),
            "product_category": "home/furniture",
            "marketplace": "US",
            "claim_amount": {"amount": "250.00", "currency": "USD"},
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    decision: str = response.json()["decision"]
    return decision


async def headers_for(database: Database, role: Role, seller_id: str | None = None) -> Headers:
    key = await create_key(database, role, seller_id=seller_id)
    return {"Authorization": f"Bearer {key.secret}"}


async def test_a_configuration_only_insurer_quotes_binds_and_cancels_through_its_events(
    service: tuple[Client, Litestar], database: Database
) -> None:
    client, app = service
    seller = await headers_for(database, Role.SELLER, "s-1")
    claims = await headers_for(database, Role.CLAIMS)
    body = power_bank_body(categories={"home/furniture": "1"})
    assert (
        await client.put("/v1/sellers/s-1/profile", json=body, headers=seller)
    ).status_code == 200

    quoted = await client.post(
        "/v1/quote-requests?wait=true", json={"seller_id": "s-1"}, headers=seller
    )
    assert quoted.status_code in (200, 202), quoted.text
    view = quoted.json()
    assert [(o["provider_id"], o["status"]) for o in view["outcomes"]] == [("keystone", "offered")]
    assert view["outcomes"][0]["insurer_name"] == "Keystone Casualty Company"
    best = next(o for o in view["offers"] if o["compliance"]["compliant"])
    assert best["offer"]["provider_id"] == "keystone"

    bound = await client.post(
        f"/v1/offers/{best['id']}/bind", json={}, headers={**seller, "Idempotency-Key": "b-1"}
    )
    assert bound.status_code == 201, bound.text
    [policy] = (await client.get("/v1/sellers/s-1/policies", headers=seller)).json()
    terms = policy["terms"]
    assert terms["policy_number"].startswith("KCC-GL-")
    effective_at = datetime.fromisoformat(terms["effective_at"])
    incident = effective_at + timedelta(days=30)
    assert await check(client, claims, incident) == "exempt"

    cancelled_from = effective_at + timedelta(days=10)
    event = json.dumps(
        {
            "type": "policy.cancelled",
            "occurred_at": datetime.now(UTC).isoformat(),
            "policy_number": terms["policy_number"],
            "effective_at": cancelled_from.isoformat(),
            "reason": "non-payment of premium",
        }
    ).encode()
    headers = signature_headers([SECRET], f"evt_{uuid.uuid4().hex}", int(time.time()), event)
    received = await client.post(
        "/v1/webhooks/insurers/keystone",
        content=event,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert received.status_code == 200, received.text
    worker = InboxWorker(database, runtime_of(app).services.partners, owner="test-worker")
    assert await worker.run_until_idle() == 1

    assert await check(client, claims, incident) != "exempt"
    assert await check(client, claims, cancelled_from - timedelta(days=1)) == "exempt"
