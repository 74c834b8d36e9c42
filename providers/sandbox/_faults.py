"""Fault injection for the simulated insurers, as an aiohttp middleware.

Each request to an insurer's path prefix draws from that insurer's seeded random stream, a fixed
number of draws per request, so a seeded sandbox misbehaves identically on every run.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from aiohttp.typedefs import Handler

from providers.sandbox._config import Latency
from providers.sandbox._state import STATE, InsurerState, SandboxState

_DRAWS = ("reset", "hang", "rate_limit", "error", "malformed", "trickle")
_TRICKLE_CHUNKS = 16


async def pause(state: SandboxState, seconds: float) -> bool:
    """Sleep, cut short when the sandbox stops; True if it is stopping."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), timeout=seconds)
    return state.stopping.is_set()


def latency_seconds(latency: Latency, insurer: InsurerState) -> float:
    """A delay drawn from ``latency`` (from the insurer's stream only when it is a range)."""
    if latency.min_ms is not None and latency.max_ms is not None:
        low, high = sorted((latency.min_ms, latency.max_ms))
        return insurer.rng.uniform(low, high) / 1000
    return latency.fixed_ms / 1000


def _reset(request: web.Request) -> web.StreamResponse:
    # Abort (RST), not close: the client sees a connection reset, not a clean EOF.
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


def _body(response: web.StreamResponse) -> bytes:
    body = response.body if isinstance(response, web.Response) else None
    return body if isinstance(body, bytes) else b""


def _malformed(response: web.StreamResponse) -> web.Response:
    body = _body(response)
    # Cut in half and add a stray byte: invalid JSON and XML alike, with the right content type.
    broken = body[: len(body) // 2] + b"\x00<<truncated"
    return web.Response(
        status=response.status, body=broken, content_type=response.content_type or "text/plain"
    )


async def _trickle(
    request: web.Request, response: web.StreamResponse, state: SandboxState, seconds: float
) -> web.StreamResponse:
    body = _body(response)
    stream = web.StreamResponse(status=response.status)
    for name, value in response.headers.items():
        if name.lower() != "content-length":
            stream.headers[name] = value
    stream.content_length = len(body)
    size = max(1, -(-len(body) // _TRICKLE_CHUNKS))
    chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    try:
        await stream.prepare(request)
        for chunk in chunks:
            await stream.write(chunk)
            if await pause(state, seconds / len(chunks)):
                break
        await stream.write_eof()
    except ConnectionError:
        pass  # the client gave up waiting, which is what this fault is for
    return stream


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the requested insurer's current faults around its handler."""
    state = request.app[STATE]
    insurer = state.insurers.get(request.path.strip("/").split("/", 1)[0])
    if insurer is None:
        return await handler(request)
    insurer.requests += 1
    faults = insurer.faults
    delay = latency_seconds(faults.latency, insurer)
    # Always draw every number, so the stream's position depends only on the request count.
    draw = {name: insurer.rng.random() for name in _DRAWS}
    if await pause(state, delay):
        return _reset(request)
    if draw["reset"] < faults.reset_rate:
        return _reset(request)
    if draw["hang"] < faults.hang_rate:
        await state.stopping.wait()
        return _reset(request)
    if draw["rate_limit"] < faults.rate_limit_rate:
        return web.json_response(
            {"error": "rate_limited", "message": "too many requests"},
            status=429,
            headers={"Retry-After": str(faults.retry_after_seconds)},
        )
    if draw["error"] < faults.error_rate:
        return web.json_response(
            {"error": "internal_error", "message": "simulated failure"}, status=500
        )
    response = await handler(request)
    if draw["malformed"] < faults.malformed_rate:
        response = _malformed(response)
    if draw["trickle"] < faults.trickle_rate:
        return await _trickle(request, response, state, faults.trickle_seconds)
    return response
