"""The schemathesis drill: every operation of the served document, on both databases side by
side, in one schemathesis process per database.

It ran in three parts (a share of the operations each, on three workers) from the fifth round to
the seventh (docs/performance.md, "The test suite's time"). Each part started its own server,
sandbox and schemathesis process per database, about 4 s of CPU before its first case; whole,
the drill alone used 81-85 s of CPU against 97-104 s for the three parts (eighth round; inside a
busy suite the other tests' CPU rose by as much), with the same operations, checks, seed and
phases. It is the first unit of work `make test` hands out, so its
length (61-64 s alone on a quiet machine in the fifth round, before the seventh made it cheaper)
is spent beside the other workers' modules, not after them."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from accelerator.server import create_app
from accelerator.settings import Settings
from bench.drills import DrillResult, fuzz
from tests.drills.conftest import Drill, failures


@functools.cache  # one app built per test process (0.15 s of CPU)
def served_operations() -> set[str]:
    """Every operation of the served document, by its name in schemathesis's report
    ("METHOD /path")."""
    app = create_app(Settings(database_url="sqlite+aiosqlite://", sandbox_enabled=False))
    paths: dict[str, dict[str, Any]] = app.openapi_schema.to_schema()["paths"]
    return {
        f"{method.upper()} {path}"
        for path, item in paths.items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def fuzzed(report: Path) -> Iterator[str]:
    """The operations schemathesis's junit report says it tested."""
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own run's file
        yield str(case.get("name"))


def test_fuzzing_the_served_openapi_document_finds_nothing_it_does_not_promise(
    run_on_each: Callable[[Drill], dict[str, DrillResult]], tmp_path: Path
) -> None:
    # Every schemathesis check and ours (fuzz.py): no 5xx, no undocumented status, every answer
    # matching its schema, invalid data refused and valid data accepted, every error a problem.
    # The documented examples, boundary values of every field (the coverage phase: most of the
    # cases, and every operation's documented refusals) and random data; a fixed seed and 10
    # random cases per operation (25 before: the fuzzing phase was 40% of the drill). The long
    # drill (`python -m bench drill schemathesis`) adds more examples and stateful sequences.
    results = run_on_each(
        lambda url, logs: fuzz.run(
            url, logs, max_examples=10, seed=1, phases="examples,coverage,fuzzing"
        )
    )
    assert all(r.passed for r in results.values()), failures(results)
    # Every operation of the served document was tested, on each database.
    for kind in results:
        tested = set(fuzzed(tmp_path / kind / "schemathesis-junit.xml"))
        assert tested == served_operations(), (kind, served_operations() ^ tested)
