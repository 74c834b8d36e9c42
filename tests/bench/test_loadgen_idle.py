"""The load generator closes idle connections before the server would (bench.loadgen)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from bench.loadgen import FixedRequests, LoadSpec, http_request, run_load
from bench.processes import free_port

# The server's own keep-alive limit in this test, and the generator's: far apart, so that the
# generator's sweep (every 0.1 s) retires a connection long before the server would.
SERVER_IDLE_SECONDS = 1.5
CLIENT_IDLE_SECONDS = 0.3


class _KeepAliveServer(asyncio.Protocol):
    """Answers every request with 200 and, as uvicorn does, closes a connection idle for
    SERVER_IDLE_SECONDS; counts those closes."""

    closed_idle = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(SERVER_IDLE_SECONDS, self._idle)

    def _idle(self) -> None:
        type(self).closed_idle += 1
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # type: ignore[attr-defined]
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()


@pytest.fixture
def server_port() -> Iterator[int]:
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        server = await loop.create_server(_KeepAliveServer, "127.0.0.1", port)
        started.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10)
    yield port
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def test_idle_connections_are_closed_by_the_generator_before_the_server_closes_them(
    server_port: int,
) -> None:
    _KeepAliveServer.closed_idle = 0
    raw = http_request("GET", "/", host=f"127.0.0.1:{server_port}")
    began = time.monotonic()
    result = run_load(
        LoadSpec(
            host="127.0.0.1",
            port=server_port,
            source=FixedRequests((raw,)),
            # Longer than the server's idle limit: 8 connections at 5 a second leave most of
            # them idle for the whole run unless the generator retires them.
            duration_seconds=SERVER_IDLE_SECONDS + 1.5,
            warmup_seconds=0.0,
            connections=8,
            rate=5.0,
            idle_limit_seconds=CLIENT_IDLE_SECONDS,
        )
    )
    assert time.monotonic() - began >= SERVER_IDLE_SECONDS  # the run outlived the server's limit
    assert result.errors == {}
    assert result.statuses == {200: result.completed}
    assert result.completed >= 10
    # Every idle connection was retired by the generator: the server never had to.
    assert _KeepAliveServer.closed_idle == 0
