"""Receives first: how an API process's own inbox worker takes turns with its receives.

Receiving is the partner-facing promise (verified, stored, answered); applying is asynchronous
by design. An in-process worker shares the API's core and, on SQLite, its one writer: when it
applied while deliveries streamed in, receives queued behind it and ingest fell far below the
raw insert's rate (docs/performance.md). So:

- before each batch the worker waits until no receive is in progress, but never longer than its
  bound: during a burst that never pauses it still applies a batch that often, and it catches up
  once the burst is over;
- on SQLite (one writer), a receive that arrives while the worker applies a batch waits here for
  the batch to end, rather than in SQLite's busy handler, which polls in sleeps of up to 100 ms
  and holds up every receive queued on the same connection;
- and after a batch that receives waited for, the worker waits as long as the batch took, so
  that they get at least half of the time. (Without this pause, receives released together at
  the end of a batch finished together, and the moment without a receive that followed handed
  the worker its next turn at once.)

Only a process's own worker takes turns: an external ``accelerator worker`` never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class ReceivesFirst:
    def __init__(self, *, one_writer: bool, max_receive_wait: float = 1.0) -> None:
        """``one_writer``: the database takes one writer at a time (SQLite), so receives wait for
        the worker's batch; at most ``max_receive_wait`` seconds, then they go regardless."""
        self._one_writer = one_writer
        self._max_receive_wait = max_receive_wait
        self._receiving = 0
        self._no_receive = asyncio.Event()
        self._no_receive.set()
        self._not_applying = asyncio.Event()
        self._not_applying.set()
        self._receives_waited = False

    @contextlib.asynccontextmanager
    async def receiving(self) -> AsyncIterator[None]:
        """Around one receive, from verifying to the stored row's commit."""
        if self._one_writer and not self._not_applying.is_set():
            self._receives_waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._not_applying.wait(), self._max_receive_wait)
        self._receiving += 1
        self._no_receive.clear()
        try:
            yield
        finally:
            self._receiving -= 1
            if not self._receiving:
                self._no_receive.set()

    async def give_way(self, max_wait: float) -> None:
        """Wait until no receive is in progress, at most ``max_wait`` seconds."""
        if self._receiving:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_receive.wait(), max_wait)

    @contextlib.asynccontextmanager
    async def applying(self) -> AsyncIterator[None]:
        """Around one batch of the worker; if receives waited for it, it ends by waiting as long
        as the batch took."""
        self._receives_waited = False
        started = time.monotonic()
        self._not_applying.clear()
        try:
            yield
        finally:
            self._not_applying.set()
        if self._receives_waited:
            await asyncio.sleep(time.monotonic() - started)


__all__ = ["ReceivesFirst"]
