"""Notification test set-up: a real HTTP receiver on 127.0.0.1 that verifies every delivery with
the ``standardwebhooks`` package, a clock the tests move by hand, and a delivery worker the tests
drive themselves (private URLs allowed: the receiver is on the loopback)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import standardwebhooks.webhooks
from aiohttp import web
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.infra.database import Database
from accelerator.notifications.sender import Sender
from accelerator.notifications.worker import DeliveryWorker
from accelerator.server import runtime_of
from accelerator.settings import Settings
from accelerator.webhooks.worker import InboxWorker
from tests.api.conftest import key_for
from tests.webhooks.callbacks import HEX_SECRET, NEW_SECRET, OLD_SECRET
from tests.webhooks.conftest import pending_bind, seller

__all__ = ["key_for", "pending_bind", "seller"]

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]


class Clock:
    """The tests' time: never behind the real time (what the service stamps with its own clock
    is due by it), and ahead of it by as much as the test moved it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        self.now = max(self.now, datetime.now(UTC))
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self() + timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The tests' clock; the standardwebhooks package checks timestamps against it too."""
    test_clock = Clock()

    class TestDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> TestDatetime:
            return cls.fromtimestamp(test_clock().timestamp(), tz=tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", TestDatetime)
    return test_clock


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    # Which of the receiver's secrets verified it (standardwebhooks.Webhook.verify).
    verified_with: list[str]

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


@dataclass
class Receiver:
    """An HTTP receiver: answers each delivery with the next of ``answers`` (then 200)."""

    secrets: list[str]
    url: str = ""
    answers: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        verified = []
        for secret in self.secrets:
            try:
                standardwebhooks.Webhook(secret).verify(body, headers)
            except standardwebhooks.WebhookVerificationError:
                continue
            verified.append(secret)
        self.deliveries.append(Delivery({k.lower(): v for k, v in headers.items()}, body, verified))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status)


@pytest.fixture
async def start_receiver() -> AsyncIterator[Callable[..., Any]]:
    """Starts receivers on 127.0.0.1 (each on its own port), stopped after the test."""
    runners: list[web.AppRunner] = []

    async def start(secrets: list[str] | None = None, path: str = "/hooks") -> Receiver:
        receiver = Receiver(secrets or [])
        app = web.Application()
        app.router.add_post(path, receiver.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        receiver.url = f"http://127.0.0.1:{port}{path}"
        return receiver

    yield start
    for runner in runners:
        await runner.cleanup()


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
    # The tests run both workers themselves, so what they assert does not race background ones.
    return msgspec.structs.replace(
        settings,
        providers=providers,
        inbox_worker="external",
        notifications_allow_private_urls=True,
    )


@pytest.fixture
async def inbox_worker(client: Client, app: Litestar, database: Database) -> InboxWorker:
    return InboxWorker(database, runtime_of(app).services.partners, owner="test-inbox")


@pytest.fixture
async def delivery_worker(
    client: Client, database: Database, clock: Clock
) -> AsyncIterator[DeliveryWorker]:
    # The test's own Database: the app's is bound to the test client's event loop.
    worker = DeliveryWorker(
        database, Sender(allow_private=True, timeout_seconds=5), clock=clock, owner="test-sender"
    )
    yield worker
    await worker.sender.close()


async def register(
    client: Client,
    headers: Headers,
    url: str,
    *,
    event_types: list[str] | None = None,
    **scope: str,
) -> dict[str, Any]:
    """Register an endpoint through the API; the created answer (endpoint and secret)."""
    body: dict[str, Any] = {"url": url, **scope}
    if event_types is not None:
        body["event_types"] = event_types
    response = await client.post("/v1/admin/webhook-endpoints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
