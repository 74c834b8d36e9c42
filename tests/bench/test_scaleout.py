"""The scale-out scenario's pure parts: which process count runs first, which round counts,
where the processes run, and whose CPU a server's figure adds up."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.cpu import ProcessTable, Snapshot
from bench.processes import CorePlan
from bench.results import median_round
from bench.scenarios.scaleout import alternate, api_label, applied_rate, round_order, server_cpu_us


def test_one_and_two_processes_take_turns_going_first() -> None:
    assert [round_order(n) for n in (1, 2, 3, 4)] == [(1, 2), (2, 1), (1, 2), (2, 1)]


def test_labels_name_the_process_count() -> None:
    assert api_label(1) == "1 API process"
    assert api_label(2) == "2 API processes"


def test_the_median_rounds_ratio_counts_not_the_fastest_round() -> None:
    # (two processes, one process) per round: ratios 2.0, 1.2, 1.5.
    rounds = [(200.0, 100.0), (120.0, 100.0), (300.0, 200.0)]
    assert median_round(rounds, float) == (300.0, 200.0)


def test_a_round_whose_baseline_answered_nothing_sorts_last() -> None:
    rounds = [(10.0, 0.0), (12.0, 10.0), (8.0, 10.0)]
    assert median_round(rounds, float) == (12.0, 10.0)


def test_no_rounds_is_an_error_not_a_figure() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        median_round([], float)


def test_alternate_pairs_two_processes_with_one_from_the_same_round() -> None:
    calls: list[tuple[int, str]] = []

    # Round n measures 100·n with one process and 150·n with two (ratio 1.5 every round),
    # except round 2 whose two-process figure is 400 (ratio 2.0).
    def measure_with(count: int, suffix: str) -> dict[str, float]:
        calls.append((count, suffix))
        number = int(suffix.split()[1])
        one = 100.0 * number
        two = 400.0 if number == 2 else 150.0 * number
        return {"checks": one if count == 1 else two}

    got = alternate(measure_with, float, rounds=3)

    assert [count for count, _ in calls] == [1, 2, 2, 1, 1, 2]
    assert calls[0][1] == " (round 1 of 3)"
    # The ratios are 1.5, 2.0, 1.5: a round with 1.5 counts, its two figures side by side.
    two, one = got["checks"]
    assert two / one == 1.5
    assert (two, one) in {(150.0, 100.0), (450.0, 300.0)}


def test_one_api_process_keeps_the_server_core_two_spread_over_every_core() -> None:
    plan = CorePlan(frozenset({0}), frozenset({1}), frozenset({1}))
    assert plan.for_api(1) == frozenset({0})
    assert plan.for_api(2) == frozenset({0, 1})
    three = CorePlan(frozenset({0}), frozenset({1}), frozenset({2, 3}))
    assert three.for_api(2) == frozenset({0, 1, 2, 3})
    assert CorePlan(None, None, None).for_api(2) is None  # one core: nothing is pinned


def test_a_servers_cpu_includes_its_worker_processes() -> None:
    # uvicorn's supervisor (10) with two workers (11, 12), one of which started a helper (13);
    # 20 is another program, 30 a PostgreSQL backend.
    table = ProcessTable(
        parents={10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 30: 1},
        names={10: "python", 11: "python", 12: "python", 13: "python", 20: "x", 30: "postgres"},
        seconds={10: 0.5, 11: 3.0, 12: 2.5, 13: 1.0, 20: 9.0, 30: 4.0},
    )
    assert table.tree_seconds(10) == 7.0
    assert table.tree_seconds(12) == 2.5
    assert table.tree_seconds(99) == 0.0  # gone
    assert table.postgres_seconds() == {30: 4.0}


def test_scaleout_runs_only_when_named() -> None:
    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "scaleout" in help_text
    assert "default: all but scaleout" in " ".join(help_text.split())


def test_a_backend_that_ended_does_not_make_postgresqls_figure_negative() -> None:
    # Between the snapshots backend 31 (another client's) ended and 32 started.
    before = Snapshot(10.0, {"server": 1.0}, {30: 4.0, 31: 2.0}, (100.0, 200.0))
    after = Snapshot(12.0, {"server": 2.0}, {30: 5.0, 32: 1.0}, (103.0, 204.0))
    usage = after.usage_since(before)
    assert usage["cpu_postgres"] == 1.0  # (1.0 + 1.0) seconds over 2 s
    assert usage["cpu_server"] == 0.5
    assert usage["cpu_machine"] == 1.5


def test_the_drain_rate_leaves_out_the_workers_start_up_and_first_batch() -> None:
    start = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # the first batch's stamp, whenever it was
    batches = [
        (start, 100),
        (start + timedelta(seconds=1), 100),
        (start + timedelta(seconds=2), 50),
    ]
    assert applied_rate(batches) == 75.0  # 150 deliveries after the first stamp, over 2 s
    assert math.isnan(applied_rate(batches[:1]))  # one batch: no span to divide by
    assert math.isnan(applied_rate([]))


def test_cpu_per_answer_from_cores_busy_and_answers_per_second() -> None:
    assert server_cpu_us(0.5, 1000.0) == 500.0  # half a core for 1,000 answers a second
    assert math.isnan(server_cpu_us(0.5, 0.0))
