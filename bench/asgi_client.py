"""The service app driven in this process through ASGI, without a server or a socket: for the
in-process CPU measurements (``bench.fanout_cpu``, ``bench.check_cpu``), where the CPU a
process spends is then the app's alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

Message = MutableMapping[str, Any]
App = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


async def call(app: App, key: str, method: str, path: str, body: Any) -> tuple[int, bytes]:
    """One request through ASGI: its status and body."""
    raw = json.dumps(body).encode()
    route, _, query = path.partition("?")
    scope: Message = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    received = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[None]:
    """The app started (its lifespan's startup done) until the block ends, then shut down."""
    events: asyncio.Queue[Message] = asyncio.Queue()
    started = asyncio.Event()

    async def lifespan_send(message: Message) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    lifespan = asyncio.create_task(
        app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, events.get, lifespan_send
        )
    )
    await events.put({"type": "lifespan.startup"})
    await started.wait()
    try:
        yield
    finally:
        await events.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 30)
