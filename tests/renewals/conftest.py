"""Renewal test set-up: the real service (uvicorn) and the sandbox insurers on loopback, in the
test's own event loop, so that a test runs the service's own renewal sweep with its clock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from litestar import Litestar

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.notifications.sweep import ReminderSweep
from accelerator.renewals.sweep import RenewalSweep
from accelerator.server import create_app, runtime_of
from accelerator.settings import Settings
from bench.processes import free_port
from providers.sandbox import SandboxConfig, default_sandbox_provider_settings, start_sandbox
from tests.api.conftest import power_bank_body
from tests.api.policies import bind_policy, us_terms

SECRET = "whsec_" + "cmVuZXdhbHMtdGVzdC1zZWNyZXQtMTIzNDU2Nzg5MA=="
# Generous: on a loaded machine every insurer still answers in time, and a test waits only as
# long as the slowest answer takes.
DEADLINE = 10.0
#: Every sandbox insurer quotes furniture: the renewal gets offers from all of them.
CATEGORY = "home/furniture"


@dataclass
class Service:
    client: httpx.AsyncClient  # the seller's key
    admin: httpx.AsyncClient
    app: Litestar
    database: Database

    def sweep(self, now: Callable[[], datetime]) -> RenewalSweep:
        """The service's own renewal sweep, on the clock ``now`` (pages of two)."""
        sweep = runtime_of(self.app).services.renewal_sweep
        return dataclasses.replace(sweep, clock=now, page_size=2)

    def reminders(self, now: Callable[[], datetime]) -> ReminderSweep:
        """The service's own reminder sweep, on the clock ``now``."""
        return dataclasses.replace(runtime_of(self.app).services.reminders, clock=now)


@pytest.fixture
async def service(database_url: str, database: Database) -> AsyncIterator[Service]:
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox = await start_sandbox(
        "127.0.0.1",
        0,
        SandboxConfig(callback_url=f"{api_url}/v1/webhooks/insurers", callback_secret=SECRET),
    )
    providers = default_sandbox_provider_settings(
        sandbox.url, f"{api_url}/v1/webhooks/insurers", [SECRET]
    )
    settings = Settings(
        database_url=database_url,
        sandbox_enabled=False,
        providers=msgspec.to_builtins(providers),
        quote_deadline_seconds=DEADLINE,
        insurer_timeout_seconds=DEADLINE,
        bootstrap_admin_key="renewals-admin",
        # The tests run the sweeps themselves, on their clock.
        reminder_sweep_seconds=3600.0,
        notifications_allow_private_urls=True,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    key = await create_key(database, Role.SELLER, seller_id="s-1")
    async with (
        httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {key.secret}"}, timeout=30
        ) as client,
        httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": "Bearer renewals-admin"}, timeout=30
        ) as admin,
    ):
        put = await client.put(
            "/v1/sellers/s-1/profile", json=power_bank_body(categories={CATEGORY: "1"})
        )
        assert put.status_code == 200, put.text
        yield Service(client, admin, app, database)
    server.should_exit = True
    await task
    await sandbox.stop()


async def policy_ending(database: Database, ends_on: date, number: str = "") -> str:
    """A compliant furniture policy of seller s-1 bound here a year before, ending at 00:01
    Los Angeles on ``ends_on``; its id."""
    terms = us_terms(
        ends_on - timedelta(days=365),
        ends_on,
        policy_number=number or f"MSI-GL-{ends_on.isoformat()}",
        covered_categories=[CATEGORY],
    )
    return await bind_policy(database, terms)


async def renewal_settled(client: httpx.AsyncClient, policy_id: str) -> dict[str, Any]:
    """The renewal once every insurer has answered (a generous wait, never a fixed sleep)."""
    for _ in range(300):
        response = await client.get(f"/v1/policies/{policy_id}/renewal")
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        if view["status"] != "collecting":
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"the renewal of {policy_id} never completed")
