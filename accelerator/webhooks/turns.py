"""Receives first: an API process's own inbox worker waits for a moment without receives.

Receiving is the partner-facing promise (verified, stored, answered); applying is asynchronous
by design. An in-process worker shares the API's core and, on SQLite, its one writer: when it
applied while deliveries streamed in, receives queued behind it and ingest fell to a fifth of
the raw insert's rate (docs/performance.md). So before each batch the worker waits until no
receive is in progress, but never longer than its bound: during a burst that never pauses it
still applies a batch that often, and it catches up once the burst is over.

Receives do not wait for the worker in turn: making them wait for its batch to end was tried,
and bunched them into waves whose gaps handed the worker more of the core, not less.
Only a process's own worker gives way: an external ``accelerator worker`` never does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class ReceivesFirst:
    def __init__(self) -> None:
        self._receiving = 0
        self._no_receive = asyncio.Event()
        self._no_receive.set()

    @contextlib.contextmanager
    def receiving(self) -> Iterator[None]:
        """Around one receive, from verifying to the stored row's commit."""
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


__all__ = ["ReceivesFirst"]
