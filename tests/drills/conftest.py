"""Short versions of the reliability drills (``python -m bench drill …`` runs the long ones).

Each drill starts the real commands (``accelerator sandbox``, ``serve``, ``worker``) against the
session's SQLite and PostgreSQL databases. Both databases run at the same time, in two threads,
because most of a drill is waiting on deadlines: that keeps each drill to tens of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from accelerator.infra.database import open_database
from bench.drills import DrillResult
from tests.storage import empty_all_tables

Drill = Callable[[str, Path], DrillResult]


async def _empty(url: str) -> None:
    db = open_database(url)
    try:
        await empty_all_tables(db)
    finally:
        await db.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every drill is slow (it starts the real commands): marked, so that a quick local run can
    # leave them out with `-m "not drill"`, while `make test` and CI run them all.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.drill)


@pytest.fixture
def drill_databases(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The session's databases, emptied before and after: SQLite, and PostgreSQL where reachable
    (in CI it must be: the session fixture fails the run otherwise)."""
    urls = {"sqlite": str(request.getfixturevalue("sqlite_url"))}
    with contextlib.suppress(pytest.skip.Exception):
        urls["postgresql"] = str(request.getfixturevalue("postgres_url"))
    for url in urls.values():
        asyncio.run(_empty(url))
    yield urls
    for url in urls.values():
        asyncio.run(_empty(url))


@pytest.fixture
def run_on_each(
    drill_databases: dict[str, str], tmp_path: Path
) -> Callable[[Drill], dict[str, DrillResult]]:
    """Run a drill on every database at once; returns each database's result."""

    def run(drill: Drill) -> dict[str, DrillResult]:
        def timed(kind: str, url: str) -> tuple[DrillResult, float]:
            started = time.monotonic()
            return drill(url, tmp_path / kind), time.monotonic() - started

        with ThreadPoolExecutor(len(drill_databases)) as pool:
            futures = {kind: pool.submit(timed, kind, url) for kind, url in drill_databases.items()}
            done = {kind: future.result() for kind, future in futures.items()}
        # Every check and fact beside the processes' logs, passed or not, with the drill's
        # time: what a drill waited on, and how long, is read there.
        for kind, (result, seconds) in done.items():
            (tmp_path / kind).mkdir(parents=True, exist_ok=True)
            (tmp_path / kind / "result.txt").write_text(f"{seconds:.1f} s\n{result.text()}\n")
        return {kind: result for kind, (result, _) in done.items()}

    return run


def failures(results: dict[str, DrillResult]) -> str:
    """Every failing drill's full report, for the assertion message."""
    return "\n".join(r.text() for kind, r in results.items() if not r.passed)
