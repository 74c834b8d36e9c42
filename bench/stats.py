"""Latency summaries and ratios: what every scenario reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank percentile of already sorted values (NaN when there are none)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds; ``count`` is how many requests the figures are drawn from."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    p999: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        ordered = sorted(s * 1000 for s in seconds)
        if not ordered:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
        p50, p90, p99, p999 = (percentile(ordered, p) for p in PERCENTILES)
        return cls(len(ordered), sum(ordered) / len(ordered), p50, p90, p99, p999, ordered[-1])


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN rather than an error when either is missing or zero."""
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator
