"""A circuit breaker per insurer: stop calling a partner that keeps failing, probe it later.

Closed: calls flow; ``failure_threshold`` consecutive failures open it. Open: calls are skipped
until ``cooldown_seconds`` pass. Half-open: one probe call is let through; its success closes the
breaker, its failure opens it again. State is per process on purpose: it protects this process's
budget and recovers by itself, so it need not be shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from schemas import BreakerState

__all__ = ["BreakerState", "CircuitBreaker"]


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _failures: int = 0
    _opened_at: float | None = None
    _probe_in_flight: bool = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self._opened_at >= self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time is allowed."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._probe_in_flight = False
        if self._opened_at is not None:  # a failed probe: open again for a full cooldown
            self._opened_at = self.clock()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self.clock()

    def release(self) -> None:
        """The allowed call ended without telling us anything about the partner's health."""
        self._probe_in_flight = False
