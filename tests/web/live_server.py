"""The real service (uvicorn) and the sandbox insurers on loopback, run in a background thread.

Playwright's sync API drives the browser from the test's own thread; the service keeps its own
event loop in another one, and ``run`` hands it coroutines (keys, table cleanup) to execute.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import msgspec
import uvicorn
from litestar import Litestar

from accelerator.infra.database import Database, open_database
from accelerator.server import create_app
from accelerator.settings import Settings
from bench.processes import free_port
from providers.sandbox import (
    SandboxConfig,
    SandboxHandle,
    default_sandbox_provider_settings,
    start_sandbox,
)
from tests.storage import empty_all_tables

T = TypeVar("T")
SECRET = "whsec_" + "d2ViLXBhZ2VzLWJyb3dzZXItdGVzdC1zZWNyZXQ="
# Short, so a journey does not wait long for an insurer that never answers.
QUOTE_DEADLINE_SECONDS = 4.0
# Long enough that a page shows the asynchronous insurer's wait before its answer arrives, even
# on a loaded two-core machine; well inside the quote deadline.
CALLBACK_DELAY_SECONDS = 2.5


class LiveService:
    """Start with ``start()``; ``url`` is the service, ``db`` its database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self.sandbox: SandboxHandle | None = None
        self.db: Database | None = None
        # The app, for tests that run its services themselves (the renewal sweep on a clock).
        self.app: Litestar | None = None

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the service's event loop and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        self.db = open_database(self.database_url)
        await empty_all_tables(self.db)
        callbacks = f"{self.url}/v1/webhooks/insurers"
        self.sandbox = await start_sandbox(
            "127.0.0.1",
            0,
            SandboxConfig(
                callback_url=callbacks,
                callback_secret=SECRET,
                callback_delay_seconds=CALLBACK_DELAY_SECONDS,
            ),
        )
        providers = default_sandbox_provider_settings(self.sandbox.url, callbacks, [SECRET])
        settings = Settings(
            database_url=self.database_url,
            sandbox_enabled=False,
            providers=msgspec.to_builtins(providers),
            quote_deadline_seconds=QUOTE_DEADLINE_SECONDS,
            insurer_timeout_seconds=QUOTE_DEADLINE_SECONDS,
            # The live links printed on certificates point here.
            public_url=self.url,
        )
        self.app = create_app(settings)
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None)
        )
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:  # uvicorn offers no event to wait on
            if self._serving.done():
                await self._serving  # raises what stopped it
            await asyncio.sleep(0.02)

    def stop(self) -> None:
        if not self._thread.is_alive():
            self._loop.close()
            return
        try:
            self.run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        if self.sandbox is not None:
            await self.sandbox.stop()
        if self.db is not None:
            await empty_all_tables(self.db)
            await self.db.dispose()
        # Whatever is still waiting (e.g. a sandbox callback timer) ends with the loop.
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
