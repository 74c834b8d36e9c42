from __future__ import annotations

from collections.abc import Callable

from bench.drills import DrillResult, soak
from tests.drills.conftest import Drill, failures


def test_a_steady_mixed_load_answers_everything_and_leaves_nothing_behind(
    run_on_each: Callable[[Drill], dict[str, DrillResult]],
) -> None:
    # Too short to judge memory (the benchmark's soak does: docs/performance.md); it checks
    # every answer is 2xx, every quote request completes and the inbox drains.
    results = run_on_each(lambda url, logs: soak.run(url, logs, minutes=0.15, rate=30))
    assert all(r.passed for r in results.values()), failures(results)
    for result in results.values():
        assert result.facts["memory verdict"].startswith("not judged")
