"""What a run records: each load measurement, and each ratio against a baseline of the same run."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.loadgen import LoadResult
from bench.stats import LatencySummary

T = TypeVar("T")
#: What one side of a round is measured on (its requests; or a port and its requests).
S = TypeVar("S")


@dataclass(frozen=True)
class Measurement:
    """One load run against one endpoint."""

    scenario: str
    database: str
    label: str
    mode: str  # "open" (fixed rate) or "closed" (fixed concurrency)
    connections: int
    offered_rate: float | None
    duration_seconds: float
    throughput: float
    latency_ms: LatencySummary
    send_lag_ms: LatencySummary
    failures: int
    statuses: dict[int, int]
    errors: dict[str, int]
    samples: list[str]
    # Extra figures a scenario computes from the answers (e.g. decisions per second).
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls, scenario: str, database: str, label: str, result: LoadResult, **extra: float
    ) -> Measurement:
        return cls(
            scenario=scenario,
            database=database,
            label=label,
            mode=result.mode,
            connections=result.connections,
            offered_rate=result.offered_rate,
            duration_seconds=result.duration_seconds,
            throughput=result.throughput,
            latency_ms=result.latency(),
            send_lag_ms=result.send_lag(),
            failures=result.failures,
            statuses=dict(result.statuses),
            errors=dict(result.errors),
            samples=list(result.samples),
            extra=dict(extra),
        )

    def load(self) -> str:
        """How the load was applied, for tables."""
        if self.mode == "open":
            return f"{self.offered_rate:g} req/s open loop, {self.connections} conns"
        return f"closed loop, {self.connections} conns"


@dataclass(frozen=True)
class Comparison:
    """A figure of the service beside the same figure of its baseline, from the same run."""

    scenario: str
    database: str
    metric: str
    value: float
    baseline: str
    baseline_value: float
    unit: str
    # The target as "ratio >= x" / "ratio <= x" / "value <= x" (None: reported only).
    target: str | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        if not self.baseline_value or math.isnan(self.value) or math.isnan(self.baseline_value):
            return math.nan
        return self.value / self.baseline_value

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        subject, operator, bound = self.target.split()
        figure = self.ratio if subject == "ratio" else self.value
        if math.isnan(figure):
            return False
        return figure >= float(bound) if operator == ">=" else figure <= float(bound)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "database": self.database,
            "metric": self.metric,
            "value": self.value,
            "baseline": self.baseline,
            "baseline_value": self.baseline_value,
            "unit": self.unit,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


def median_round(rounds: Sequence[tuple[T, T]], figure: Callable[[T], float]) -> tuple[T, T]:
    """Of pairs (served, baseline) measured side by side in several rounds, the pair whose
    ratio ``figure(served) / figure(baseline)`` is the median. A shared machine's speed drifts
    by tens of percent within minutes; a ratio of neighbours, taken as the median of several,
    cancels most of it. A baseline of zero sorts last rather than dividing by zero."""
    if not rounds:
        raise ValueError("no rounds measured")
    ordered = sorted(rounds, key=lambda pair: figure(pair[0]) / max(figure(pair[1]), 1e-9))
    return ordered[len(ordered) // 2]


def in_turns(
    measure: Callable[[str, S], Measurement],
    served: tuple[str, S],
    baseline: tuple[str, S],
    rounds: int,
    *,
    swap_order: bool = False,
) -> list[tuple[Measurement, Measurement]]:
    """Measure the baseline and the served side one after the other, ``rounds`` times: each
    round's pair (served, baseline), for :func:`median_round`. ``swap_order`` measures the
    served side first in every other round, so that neither side is always the one measured
    after the other (what a measurement leaves behind, a busier database or a warmer cache,
    is met by the one after it)."""
    pairs: list[tuple[Measurement, Measurement]] = []
    for number in range(1, rounds + 1):
        suffix = f" (round {number} of {rounds})"
        if swap_order and number % 2 == 0:  # the served side first in every other round
            served_first = measure(served[0] + suffix, served[1])
            pairs.append((served_first, measure(baseline[0] + suffix, baseline[1])))
            continue
        without = measure(baseline[0] + suffix, baseline[1])
        pairs.append((measure(served[0] + suffix, served[1]), without))
    return pairs
