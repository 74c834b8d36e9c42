"""The coverage scenario's single-check figure: alternated rounds, each side first in turn, the
median round's ratio, and the same ratio per second of the server's CPU; and its p99 between
the two registries' servers, measured in turns the same way."""

from __future__ import annotations

import math

from bench.loadgen import FixedRequests
from bench.results import Measurement, in_turns, median_round
from bench.scenarios.coverage import _per_cpu_second
from bench.stats import LatencySummary


def measurement(
    label: str, throughput: float, server_busy: float | None, latencies: list[float] | None = None
) -> Measurement:
    nothing = LatencySummary.of([])
    return Measurement(
        scenario="coverage",
        database="sqlite",
        label=label,
        mode="closed",
        connections=64,
        offered_rate=None,
        duration_seconds=3.0,
        throughput=throughput,
        latency_ms=LatencySummary.of(latencies or []),
        send_lag_ms=nothing,
        failures=0,
        statuses={200: int(throughput * 3)},
        errors={},
        samples=[],
        extra={} if server_busy is None else {"cpu_server": server_busy},
    )


def test_the_check_and_the_lookup_take_turns_going_first_and_the_median_round_counts() -> None:
    measured: list[str] = []

    # Round n: the check answers 100·n, the lookup 200·n except in round 2 (ratios 0.5, 0.2,
    # 0.5, 0.5, 0.5): a disturbed round does not count.
    def measure(label: str, _source: FixedRequests) -> Measurement:
        measured.append(label)
        number = int(label.split("round ")[1].split()[0])
        if label.startswith("check"):
            return measurement(label, 100.0 * number, 0.9)
        return measurement(label, 1000.0 if number == 2 else 200.0 * number, 0.9)

    requests = FixedRequests(())
    pairs = in_turns(measure, ("check", requests), ("lookup", requests), 5, swap_order=True)

    assert [label.split(" (")[0] for label in measured] == [
        "lookup", "check", "check", "lookup", "lookup", "check", "check", "lookup", "lookup",
        "check",
    ]  # fmt: skip
    check, lookup = median_round(pairs, lambda m: m.throughput)
    assert check.throughput / lookup.throughput == 0.5


def test_answers_per_cpu_second_do_not_depend_on_how_busy_the_server_was_let_be() -> None:
    # The same work per answer, the server given 0.4 or 0.9 of its core.
    starved, fed = measurement("a", 400.0, 0.4), measurement("b", 900.0, 0.9)
    assert _per_cpu_second(starved) == _per_cpu_second(fed) == 1000.0
    assert math.isnan(_per_cpu_second(measurement("c", 400.0, None)))


def test_the_two_registries_p99_is_the_median_of_rounds_each_sent_to_its_own_server() -> None:
    # Every round both servers answer with a p99 of 2 ms, except round 3, when the machine
    # stalled the large registry's (40 ms): one disturbed round does not make the registry's
    # size look costly.
    large_port, small_port = 8002, 8001
    loaded: list[tuple[int, str]] = []

    def measure(label: str, target: tuple[int, FixedRequests]) -> Measurement:
        port = target[0]
        loaded.append((port, label.split(" (")[0]))
        number = int(label.split("round ")[1].split()[0])
        p99_ms = 40.0 if port == large_port and number == 3 else 2.0
        return measurement(label, 100.0, 0.5, [0.001] * 99 + [p99_ms / 1000])  # seconds

    requests = FixedRequests(())
    pairs = in_turns(
        measure,
        ("large", (large_port, requests)),
        ("small", (small_port, requests)),
        5,
        swap_order=True,
    )

    # Each side went to its own server, and each was measured first in turn.
    assert loaded[:4] == [
        (small_port, "small"),
        (large_port, "large"),
        (large_port, "large"),
        (small_port, "small"),
    ]
    assert {port for port, side in loaded if side == "large"} == {large_port}
    large, small = median_round(pairs, lambda m: m.latency_ms.p99)
    assert large.latency_ms.p99 / small.latency_ms.p99 == 1.0
