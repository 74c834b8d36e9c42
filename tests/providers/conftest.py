"""Fixtures for provider tests: a running sandbox and a receiver for its callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from providers.sandbox import SandboxConfig, SandboxHandle, start_sandbox


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class CallbackReceiver:
    """A tiny webhook endpoint: every POST to ``<url>/<provider id>`` is queued."""

    url: str
    received: asyncio.Queue[tuple[str, Received]] = field(default_factory=asyncio.Queue)


@pytest.fixture
async def callback_receiver() -> AsyncIterator[CallbackReceiver]:
    app = web.Application()
    runner = web.AppRunner(app, handle_signals=False)
    receiver = CallbackReceiver(url="")

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        await receiver.received.put(
            (request.match_info["provider_id"], Received(dict(request.headers), body))
        )
        return web.Response(status=204)

    app.router.add_post("/hooks/{provider_id}", receive)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@pytest.fixture
def sandbox_config(callback_receiver: CallbackReceiver) -> SandboxConfig:
    return SandboxConfig(seed=7, callback_url=callback_receiver.url, callback_delay_seconds=0.05)


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[SandboxHandle]:
    """The real sandbox server on 127.0.0.1, on a free port."""
    handle = await start_sandbox("127.0.0.1", 0, sandbox_config)
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client
