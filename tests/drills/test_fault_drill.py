from __future__ import annotations

from collections.abc import Callable

from bench.drills import DrillResult, faults
from tests.drills.conftest import Drill, failures


def test_every_quote_request_completes_by_its_deadline_under_every_insurer_fault(
    run_on_each: Callable[[Drill], dict[str, DrillResult]],
) -> None:
    results = run_on_each(
        lambda url, logs: faults.run(url, logs, deadline=0.5, concurrent=2, rounds=1)
    )
    assert all(r.passed for r in results.values()), failures(results)
    # Every fault was exercised, not skipped behind an open breaker.
    for result in results.values():
        assert "harbor error" in result.facts["outcomes under errors"]
        assert "harbor timed_out" in result.facts["outcomes under hang"]
