from __future__ import annotations

from collections.abc import Callable

from bench.drills import DrillResult, bind_crash
from tests.drills.conftest import Drill, failures


def test_kill_9_while_the_insurer_is_binding_ends_bound_and_the_retry_gets_the_policy(
    run_on_each: Callable[[Drill], dict[str, DrillResult]],
) -> None:
    results = run_on_each(lambda url, logs: bind_crash.run(url, logs, deadline=1.0))
    assert all(r.passed for r in results.values()), failures(results)
