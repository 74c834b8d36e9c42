"""The fan-out baseline: a minimal aiohttp program making the service's insurer calls, and nothing
else (no storage, no ranking, no retries, no capture, no per-insurer deadlines).

``python -m bench.bare_fanout --port 8300 --calls calls.json``: every ``POST /fanout`` sends
the calls in ``calls.json`` (built by the service's own adapters, so the bytes are the service's)
at once, reads and decodes each answer, and replies with each insurer's HTTP status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

_CALLS = web.AppKey("calls", list)
_SESSION = web.AppKey("session", aiohttp.ClientSession)


async def _one(session: aiohttp.ClientSession, call: dict[str, Any]) -> dict[str, Any]:
    async with session.post(call["url"], data=call["body"], headers=call["headers"]) as reply:
        body = await reply.read()
    outcome = msgspec.json.decode(body).get("outcome") if reply.status == 200 else None
    return {"provider_id": call["provider_id"], "status": reply.status, "outcome": outcome}


async def fanout(request: web.Request) -> web.Response:
    session = request.app[_SESSION]
    outcomes = await asyncio.gather(*(_one(session, call) for call in request.app[_CALLS]))
    return web.json_response({"outcomes": outcomes})


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build(calls: list[dict[str, Any]]) -> web.Application:
    app = web.Application()
    app[_CALLS] = calls

    async def session(app: web.Application) -> Any:
        # Like the service's clients: pooled keep-alive connections, up to 200 per insurer.
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=200, keepalive_timeout=30)
        app[_SESSION] = aiohttp.ClientSession(connector=connector)
        yield
        await app[_SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_post("/fanout", fanout)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_fanout", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--calls", type=Path, required=True)
    parser.add_argument("--cpus", default="", help="comma-separated cores to run on")
    args = parser.parse_args()
    if args.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    import uvloop

    calls = json.loads(args.calls.read_text())
    web.run_app(
        build(calls),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
