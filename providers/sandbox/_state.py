"""The sandbox's in-memory state: faults, random streams, issued quotes, binds and callbacks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from providers.sandbox._config import Faults, SandboxConfig
from providers.sandbox._rating import INSURERS, SimOffer


@dataclass(frozen=True)
class StoredReply:
    """A bind answer kept to replay for a repeated ``Idempotency-Key``."""

    status: int
    body: bytes
    content_type: str


@dataclass
class Delivery:
    """One callback the sandbox sent (or failed to send), for the control API."""

    insurer: str
    event_id: str
    event_type: str
    url: str
    status: int | None
    attempts: int


@dataclass
class InsurerState:
    key: str
    faults: Faults
    rng: random.Random
    requests: int = 0
    sequence: int = 0
    quotes: dict[str, SimOffer] = field(default_factory=dict)
    # quote id -> policy number: one policy per quote whatever the idempotency key.
    bound: dict[str, str] = field(default_factory=dict)
    idempotent: dict[str, StoredReply] = field(default_factory=dict)

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def _rng(seed: int, insurer: str) -> random.Random:
    # Per-insurer streams, so switching one insurer's faults never shifts another's draws.
    return random.Random(f"{seed}:{insurer}")  # noqa: S311 - simulation, not security


class SandboxState:
    """Shared by every handler of one sandbox app."""

    def __init__(self, config: SandboxConfig) -> None:
        unknown = set(config.faults) - set(INSURERS)
        if unknown:
            raise ValueError(f"faults configured for unknown insurers: {sorted(unknown)}")
        self.config = config
        self.insurers = {
            key: InsurerState(key, config.faults.get(key, Faults()), _rng(config.seed, key))
            for key in INSURERS
        }
        self.stopping = asyncio.Event()
        self.deliveries: list[Delivery] = []
        self.session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Meridian submissions and binds: id -> (ready at loop time, payload builder result).
        self.submissions: dict[str, tuple[float, dict[str, Any]]] = {}
        self.binds: dict[str, tuple[float, dict[str, Any]]] = {}
        self.event_sequence = 0

    def set_faults(self, insurer: str, faults: Faults | None) -> None:
        """Replace an insurer's faults (None: back to the configured ones) and reseed it."""
        state = self.insurers[insurer]
        state.faults = faults if faults is not None else self.config.faults.get(insurer, Faults())
        state.rng = _rng(self.config.seed, insurer)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run background work (callbacks) that stop() cancels."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        self.stopping.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
            self.session = None


STATE = web.AppKey("sandbox_state", SandboxState)
