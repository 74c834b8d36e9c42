"""The notification benchmark's two peers, each a process of its own.

- ``python -m bench.notify_peers receive PORT``: a webhook receiver that answers every POST
  with 204 and counts them (``GET /count``), the same for the service and its baseline;
- ``python -m bench.notify_peers send DATABASE_URL``: the baseline, a bare aiohttp loop that
  sends the same signed POSTs the worker would (every pending message's body, signed with its
  endpoint's secrets), ``CONCURRENCY`` at a time, and prints ``{"sent", "seconds",
  "cpu_seconds"}`` as JSON (the process's CPU time over the sends).
  It reads everything before the clock starts, and writes nothing back: the delivery work alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from sqlalchemy import select

from accelerator.infra.database import open_database
from accelerator.notifications.models import EndpointRow, MessageRow
from accelerator.notifications.worker import active_secrets
from providers import signature_headers

#: Requests in flight, as many as the worker's batch (``DeliveryWorker.batch_size``).
CONCURRENCY = 50


def receive(port: int) -> None:
    received = 0

    async def hook(_: web.Request) -> web.Response:
        nonlocal received
        received += 1
        return web.Response(status=204)

    async def count(_: web.Request) -> web.Response:
        return web.json_response({"received": received})

    app = web.Application()
    app.router.add_post("/hooks", hook)
    app.router.add_get("/count", count)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def _pending(url: str) -> list[tuple[str, str, list[str]]]:
    db = open_database(url)
    try:
        async with db.reading() as session:
            rows = await session.execute(
                select(EndpointRow.url, EndpointRow.secrets, MessageRow.event_id, MessageRow.body)
                .join(EndpointRow, EndpointRow.id == MessageRow.endpoint_id)
                .order_by(MessageRow.id)
            )
            now = datetime.now(UTC)
            return [
                (target, event_id, [body.decode(), *active_secrets(secrets, now)])
                for target, secrets, event_id, body in rows
            ]
    finally:
        await db.dispose()


async def send(url: str) -> dict[str, float]:
    pending = await _pending(url)
    gate = asyncio.Semaphore(CONCURRENCY)
    failures = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:

        async def post(target: str, event_id: str, body_and_secrets: list[str]) -> None:
            nonlocal failures
            body, *secrets = body_and_secrets
            raw = body.encode()
            headers = signature_headers(secrets, event_id, int(time.time()), raw)
            headers["content-type"] = "application/json"
            async with gate, client.post(target, data=raw, headers=headers) as answer:
                await answer.read()
                if answer.status // 100 != 2:
                    failures += 1

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post(*message) for message in pending))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"sent": len(pending) - failures, "seconds": seconds, "cpu_seconds": cpu}


def main(argv: list[str]) -> None:
    command, argument = argv[0], argv[1]
    if command == "receive":
        receive(int(argument))
    elif command == "send":
        print(json.dumps(asyncio.run(send(argument))), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}: receive or send")


if __name__ == "__main__":
    main(sys.argv[1:])
