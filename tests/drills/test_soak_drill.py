from __future__ import annotations

from collections.abc import Callable

from bench.drills import DrillResult, soak
from tests.drills.conftest import Drill, failures


def test_a_steady_mixed_load_keeps_memory_flat_and_every_answer_2xx(
    run_on_each: Callable[[Drill], dict[str, DrillResult]],
) -> None:
    results = run_on_each(lambda url, logs: soak.run(url, logs, minutes=0.15, rate=30))
    assert all(r.passed for r in results.values()), failures(results)
