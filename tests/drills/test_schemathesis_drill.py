from __future__ import annotations

from collections.abc import Callable

from bench.drills import DrillResult, fuzz
from tests.drills.conftest import Drill, failures


def test_fuzzing_the_served_openapi_document_finds_nothing_it_does_not_promise(
    run_on_each: Callable[[Drill], dict[str, DrillResult]],
) -> None:
    # Every schemathesis check and ours (fuzz.py): no 5xx, no undocumented status, every answer
    # matching its schema, invalid data refused and valid data accepted, every error a problem.
    # The documented examples, boundary values of every field (the coverage phase: most of the
    # cases, and every operation's documented refusals) and random data; a fixed seed and 10
    # random cases per operation (25 before: the fuzzing phase was 40% of the drill, the
    # suite's second-longest test) keep it to about a minute on a busy machine. The long drill
    # (`python -m bench drill schemathesis`) adds more examples and stateful sequences.
    results = run_on_each(
        lambda url, logs: fuzz.run(
            url, logs, max_examples=10, seed=1, phases="examples,coverage,fuzzing"
        )
    )
    assert all(r.passed for r in results.values()), failures(results)
