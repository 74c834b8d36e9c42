"""The control API: read and switch each insurer's faults while the sandbox runs.

``GET /_control`` (all state), ``GET /_control/{insurer}``, ``PUT /_control/{insurer}/faults``
(replace, JSON body of :class:`Faults`), ``DELETE /_control/{insurer}/faults`` (back to the
start-up configuration) and ``DELETE /_control`` (every insurer back to it). Switching faults
reseeds that insurer's random stream, so a test that sets faults gets the same draws every run.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from providers.sandbox._config import Faults
from providers.sandbox._rating import INSURERS
from providers.sandbox._state import STATE, SandboxState


def _insurer_view(state: SandboxState, key: str) -> dict[str, Any]:
    insurer = state.insurers[key]
    profile = INSURERS[key]
    return {
        "name": profile.name,
        "rating": profile.rating,
        "style": profile.style,
        "faults": msgspec.to_builtins(insurer.faults),
        "requests": insurer.requests,
        # Quotes bound so far (one policy each), whoever asked and with whatever key.
        "policies_issued": len(insurer.bound),
    }


def _view(state: SandboxState) -> dict[str, Any]:
    return {
        "seed": state.config.seed,
        "callback_url": state.config.callback_url,
        "callback_delay_seconds": state.config.callback_delay_seconds,
        "insurers": {key: _insurer_view(state, key) for key in state.insurers},
        "deliveries": [
            {
                "insurer": d.insurer,
                "event_id": d.event_id,
                "event_type": d.event_type,
                "url": d.url,
                "status": d.status,
                "attempts": d.attempts,
            }
            for d in state.deliveries
        ],
    }


def _unknown(key: str) -> web.Response:
    return web.json_response(
        {
            "error": "unknown_insurer",
            "message": f"no insurer {key!r}",
            "insurers": sorted(INSURERS),
        },
        status=404,
    )


async def read_all(request: web.Request) -> web.Response:
    return web.json_response(_view(request.app[STATE]))


async def reset_all(request: web.Request) -> web.Response:
    state = request.app[STATE]
    for key in state.insurers:
        state.set_faults(key, None)
    return web.json_response(_view(state))


async def read_one(request: web.Request) -> web.Response:
    state, key = request.app[STATE], request.match_info["insurer"]
    if key not in state.insurers:
        return _unknown(key)
    return web.json_response(_insurer_view(state, key))


async def put_faults(request: web.Request) -> web.Response:
    state, key = request.app[STATE], request.match_info["insurer"]
    if key not in state.insurers:
        return _unknown(key)
    try:
        faults = msgspec.json.decode(await request.read(), type=Faults)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return web.json_response({"error": "invalid_faults", "message": str(exc)}, status=400)
    state.set_faults(key, faults)
    return web.json_response(_insurer_view(state, key))


async def reset_faults(request: web.Request) -> web.Response:
    state, key = request.app[STATE], request.match_info["insurer"]
    if key not in state.insurers:
        return _unknown(key)
    state.set_faults(key, None)
    return web.json_response(_insurer_view(state, key))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_control", read_all)
    app.router.add_delete("/_control", reset_all)
    app.router.add_get("/_control/{insurer}", read_one)
    app.router.add_put("/_control/{insurer}/faults", put_faults)
    app.router.add_delete("/_control/{insurer}/faults", reset_faults)
