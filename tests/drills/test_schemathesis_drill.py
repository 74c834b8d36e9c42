from __future__ import annotations

from collections.abc import Callable

from bench.drills import DrillResult, fuzz
from tests.drills.conftest import Drill, failures


def test_fuzzing_the_served_openapi_document_finds_no_500_and_only_problem_documents(
    run_on_each: Callable[[Drill], dict[str, DrillResult]],
) -> None:
    # Boundary values of every field and random data; the long drill adds examples and stateful.
    results = run_on_each(
        lambda url, logs: fuzz.run(url, logs, max_examples=3, phases="coverage,fuzzing")
    )
    assert all(r.passed for r in results.values()), failures(results)
