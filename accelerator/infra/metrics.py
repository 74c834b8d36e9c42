"""The service's Prometheus metrics (docs/operations.md#metrics): each family defined once, and
the recorder the domains call to move them.

Domains receive a :class:`Metrics` (the no-op one when metrics are off, so a service built by a
test or a benchmark records nothing unless handed :data:`PROMETHEUS`). Label children are bound
once and kept: a label lookup takes a lock and builds a tuple, which on the coverage check's path
is worth avoiding (the benchmark in docs/performance.md measures what is left).

Under ``accelerator serve --workers N`` each worker process writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums them (:func:`prepare_multiprocess_dir`); which
must be set before ``prometheus_client`` is first imported, as it picks its value store then.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from prometheus_client import Counter, Gauge, Histogram

from schemas import BreakerState, CoverageDecision

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

#: Insurer calls take from milliseconds (a decline by rule) to the quote deadline (10 s).
_INSURER_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)

INSURER_QUOTES: Final = Counter(
    "accelerator_insurer_quotes",
    "Insurers' answers to quote requests, by outcome and reason code.",
    ["insurer", "outcome", "reason"],
)
INSURER_QUOTE_SECONDS: Final = Histogram(
    "accelerator_insurer_quote_duration_seconds",
    "Time from asking an insurer for a quote to its answer (skipped insurers are not asked).",
    ["insurer", "outcome"],
    buckets=_INSURER_BUCKETS,
)
# Each process has its own breakers (insurers/breaker.py): one series per process ("liveall"
# adds a pid label under several workers, and drops a process's series when it stops).
BREAKER_STATE: Final = Gauge(
    "accelerator_insurer_breaker_state",
    "1 for the state each insurer's breaker is in (closed, open, half_open), 0 for the others.",
    ["insurer", "state"],
    multiprocess_mode="liveall",
)
QUOTE_REQUESTS: Final = Counter(
    "accelerator_quote_requests",
    "Quote requests finished, by final status (offered, no_offer, abandoned).",
    ["status"],
)
COVERAGE_DECISIONS: Final = Counter(
    "accelerator_coverage_decisions",
    "Coverage decisions given (single and batch checks), by decision and first reason.",
    ["decision", "reason"],
)
WEBHOOK_RECEIPTS: Final = Counter(
    "accelerator_webhook_receipts",
    "Insurer webhook deliveries received, by provider and result.",
    ["provider", "result"],
)
NOTIFICATION_DELIVERIES: Final = Counter(
    "accelerator_notification_deliveries",
    "Attempts to deliver an outbound notification, by endpoint and result.",
    ["endpoint", "result"],
)
# Every process takes the same periodic snapshot of the same tables: the latest one counts.
BACKLOG: Final = Gauge(
    "accelerator_backlog_messages",
    "Messages waiting in the webhook inbox and the notification outbox, by status "
    "(periodic snapshot).",
    ["queue", "status"],
    multiprocess_mode="livemostrecent",
)
BACKLOG_OLDEST: Final = Gauge(
    "accelerator_backlog_oldest_age_seconds",
    "Age of the oldest message still to be processed in each queue (0 when empty; periodic "
    "snapshot).",
    ["queue"],
    multiprocess_mode="livemostrecent",
)
BACKLOG_SNAPSHOT: Final = Gauge(
    "accelerator_backlog_snapshot_timestamp_seconds",
    "When the backlog gauges were last taken (Unix time).",
    multiprocess_mode="livemax",
)

_NO_REASON: Final = "none"


@dataclass(frozen=True)
class Backlog:
    """One queue's snapshot: how many messages in each unfinished status, how many of them
    are still to be processed (``waiting``), and when the oldest of those arrived."""

    queue: str
    counts: Mapping[str, int]
    waiting: int
    oldest_at: datetime | None

    @classmethod
    def from_rows(
        cls,
        queue: str,
        rows: Iterable[Sequence[Any]],
        waiting: Sequence[str],
        statuses: Sequence[str],
    ) -> Backlog:
        """From (status, count, oldest) rows: every one of ``statuses`` named (0 if it has no
        row), ``waiting`` and the oldest summed and taken over the ``waiting`` statuses."""
        counts = dict.fromkeys(map(str, statuses), 0)
        oldest: list[datetime] = []
        for status, count, at in rows:
            counts[str(status)] = int(count)
            if status in waiting and at is not None:
                oldest.append(at)
        return cls(
            queue=queue,
            counts=counts,
            waiting=sum(counts[str(status)] for status in waiting),
            oldest_at=min(oldest, default=None),
        )


class Metrics:
    """What the domains record. This base records nothing: metrics are off."""

    def insurer_answered(
        self, insurer: str, outcome: str, reason: str | None, seconds: float | None
    ) -> None:
        """One insurer's outcome for one quote request (``seconds`` None: it was not asked)."""

    def quote_finished(self, status: str, count: int = 1) -> None:
        """Quote requests finished: ``offered``, ``no_offer`` or ``abandoned``."""

    def decisions(self, decisions: Sequence[CoverageDecision]) -> None:
        """Coverage decisions given by one single or batch check."""

    def webhook_received(self, provider: str, result: str) -> None:
        """One insurer webhook delivery received, and what became of it."""

    def notification_attempted(self, endpoint: str, result: str) -> None:
        """One attempt at an outbound notification: ``delivered``, ``retrying`` or ``failed``."""

    def breakers(self, states: Mapping[str, BreakerState]) -> None:
        """This process's breaker state for each insurer."""

    def backlogs(self, backlogs: Iterable[Backlog], taken_at: datetime) -> None:
        """The latest snapshot of every queue."""


class PrometheusMetrics(Metrics):
    """Records into the families above (the process-wide registry)."""

    def __init__(self) -> None:
        self._decisions: dict[tuple[str, str], Counter] = {}

    def insurer_answered(
        self, insurer: str, outcome: str, reason: str | None, seconds: float | None
    ) -> None:
        INSURER_QUOTES.labels(insurer, outcome, reason or _NO_REASON).inc()
        if seconds is not None:
            INSURER_QUOTE_SECONDS.labels(insurer, outcome).observe(seconds)

    def quote_finished(self, status: str, count: int = 1) -> None:
        QUOTE_REQUESTS.labels(status).inc(count)

    def decisions(self, decisions: Sequence[CoverageDecision]) -> None:
        # A batch is tallied first, then each child moved once: up to 1,000 decisions cost a
        # handful of increments, not a thousand locked label look-ups.
        if len(decisions) == 1:
            self._decision_child(_decision_key(decisions[0])).inc()
            return
        for key, count in Tally(map(_decision_key, decisions)).items():
            self._decision_child(key).inc(count)

    def _decision_child(self, key: tuple[str, str]) -> Counter:
        child = self._decisions.get(key)
        if child is None:
            child = self._decisions[key] = COVERAGE_DECISIONS.labels(*key)
        return child

    def webhook_received(self, provider: str, result: str) -> None:
        WEBHOOK_RECEIPTS.labels(provider, result).inc()

    def notification_attempted(self, endpoint: str, result: str) -> None:
        NOTIFICATION_DELIVERIES.labels(endpoint, result).inc()

    def breakers(self, states: Mapping[str, BreakerState]) -> None:
        for insurer, current in states.items():
            for state in BreakerState:
                BREAKER_STATE.labels(insurer, state.value).set(1 if state is current else 0)

    def backlogs(self, backlogs: Iterable[Backlog], taken_at: datetime) -> None:
        for backlog in backlogs:
            for status, count in backlog.counts.items():
                BACKLOG.labels(backlog.queue, status).set(count)
            oldest = backlog.oldest_at
            age = (taken_at - oldest).total_seconds() if oldest is not None else 0.0
            BACKLOG_OLDEST.labels(backlog.queue).set(max(age, 0.0))
        BACKLOG_SNAPSHOT.set(taken_at.timestamp())


def _decision_key(decision: CoverageDecision) -> tuple[str, str]:
    return decision.decision, decision.reasons[0].code if decision.reasons else _NO_REASON


#: Metrics off: records nothing.
NO_METRICS: Final = Metrics()
#: Metrics on: the one recorder of this process.
PROMETHEUS: Final = PrometheusMetrics()


def metrics_for(enabled: bool) -> Metrics:
    return PROMETHEUS if enabled else NO_METRICS


def prepare_multiprocess_dir() -> Path | None:
    """For ``serve --workers N``: unless the operator named one, make an empty directory for
    the workers' metric files and name it in the environment the workers inherit; returns it
    (to be removed when serve stops), or None when the operator's own is used.

    The operator's directory is left as it is: it may be shared with ``accelerator worker``
    processes on the same host, and prometheus_client's rule is to empty it between runs.
    """
    if os.environ.get(MULTIPROC_ENV):
        return None
    directory = Path(tempfile.mkdtemp(prefix="accelerator-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def remove_multiprocess_dir(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    if os.environ.get(MULTIPROC_ENV) == str(directory):
        del os.environ[MULTIPROC_ENV]


def process_stopped() -> None:
    """In multiprocess mode, drop this process's live gauges (its breakers, its snapshot)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


__all__ = [
    "MULTIPROC_ENV",
    "NO_METRICS",
    "PROMETHEUS",
    "Backlog",
    "Metrics",
    "PrometheusMetrics",
    "metrics_for",
    "prepare_multiprocess_dir",
    "process_stopped",
    "remove_multiprocess_dir",
]
