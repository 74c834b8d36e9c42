"""CPU time per single coverage check and per raw lookup, measured inside the serving process:
the coverage scenario's single-check figure without the machine's share of the server's core in
it (docs/performance.md, "Single checks against the raw lookup").

``python -m bench.check_cpu [--database postgresql|sqlite] [--rounds 3] [--requests 2000]
[--in-flight 64]`` builds the app as the bench serves it (``create_bench_app()`` from
``ACCELERATOR_*`` settings) on the coverage scenario's small registry (10,000 policies) in this
process, and sends it the scenario's bodies through ASGI directly, ``--in-flight`` at once. Each
round measures ``POST /bench/raw-lookup``, ``POST /v1/coverage/checks`` with a stored claims key,
the check keeping no receipt (``/bench/check-without-receipt``) and the check without the key
lookup (``/bench/check-without-key``), in the opposite order every other round. Each prints this
process's CPU time (``time.process_time``: the app, its event loop and, on SQLite, the database
engine) per answer, and how many checks looked their API key up in the database; at the end,
each endpoint's median, and the median of the rounds' raw lookup ÷ endpoint ratios (many short
rounds, e.g. ``--rounds 30 --requests 300``, put each pair of the ratio close in time). No HTTP
server: uvicorn's parsing, the same for every endpoint, is not in the figures. To compare two
versions of the code, run it alternately from each tree, with ``PYTHONPATH`` set to the tree.

``--served`` measures instead the check as the coverage scenario serves it, uvicorn and sockets
included, against the check keeping no receipt: see ``bench.check_served``.

It uses a database of its own (``accelerator_bench_check_cpu`` on the bench's PostgreSQL
server, or a file under ``--out``), so it does not wait for a running benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accelerator.auth import repository as key_repository
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from bench import databases, registry
from bench.asgi_client import App, call, serving
from bench.check_served import ServedLoad, measure_served
from bench.keys import issue_key
from bench.scenarios.coverage import SMALL_POLICIES

#: The tool's own database (``accelerator_bench_check_cpu``, or ``check_cpu.db`` under ``--out``).
DATABASE = "check_cpu"
WARM_UP = 500
ENDPOINTS = {
    "raw lookup": "/bench/raw-lookup",
    "check": "/v1/coverage/checks",
    "check keeping no receipt": "/bench/check-without-receipt",
    "check without the key lookup": "/bench/check-without-key",
}


class _KeyLookups:
    """Counts the API-key lookups that reach the database (the cache's misses)."""

    def __init__(self) -> None:
        self.count = 0
        self._real = key_repository.active_key

    async def __call__(self, db: Database, digest: str) -> Any:
        self.count += 1
        return await self._real(db, digest)


@dataclass(frozen=True)
class Load:
    """How each measurement is sent: ``requests`` answers per endpoint and round, ``in_flight``
    at once (the scenario's closed loop has 64 connections)."""

    rounds: int
    requests: int
    in_flight: int


async def _measure(key: str, bodies: list[dict[str, Any]], load: Load) -> None:
    from bench.app import create_bench_app

    lookups = _KeyLookups()
    key_repository.active_key = lookups  # type: ignore[assignment]  # counted, not changed
    app: App = create_bench_app()
    async with serving(app):
        await asyncio.sleep(0.5)  # the key cache's revocation feed connects
        await _rounds(app, key, bodies, load, lookups)


async def _rounds(
    app: App, key: str, bodies: list[dict[str, Any]], load: Load, lookups: _KeyLookups
) -> None:
    """Warm up, then time every endpoint once a round, in the opposite order every other round
    (so that none is always measured first or right after the same other), and print the
    figures."""

    async def send(path: str, count: int) -> None:
        numbers = iter(range(count))

        async def client() -> None:
            for number in numbers:
                status, answer = await call(app, key, "POST", path, bodies[number % len(bodies)])
                if status != 200:
                    raise RuntimeError(f"{path}: {status} {answer[:300]!r}")

        await asyncio.gather(*(client() for _ in range(load.in_flight)))

    async def timed(path: str) -> float:
        cpu = time.process_time()
        await send(path, load.requests)
        return (time.process_time() - cpu) / load.requests * 1e6

    for path in ENDPOINTS.values():
        await send(path, WARM_UP)
    figures: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    for number in range(load.rounds):
        order = list(ENDPOINTS.items())
        missed = 0
        for name, path in order if number % 2 == 0 else reversed(order):
            before = lookups.count
            figures[name].append(await timed(path))
            if name == "check":
                missed = lookups.count - before
        print(
            f"round {number}: "
            + ", ".join(f"{name} {values[-1]:.0f}" for name, values in figures.items())
            + f" µs of CPU per answer; {missed} of {load.requests} checks looked their key up"
            + f" (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    _summary(figures)


def _summary(figures: dict[str, list[float]]) -> None:
    """Each endpoint's median CPU per answer, and the median over the rounds of the raw
    lookup's CPU ÷ the endpoint's in the same round: the pairs were measured seconds apart, so
    the machine's load moves both sides of each ratio alike."""
    raw = figures["raw lookup"]
    for name, values in figures.items():
        ratios = [lookup / value for lookup, value in zip(raw, values, strict=True)]
        print(
            f"{name}: median {statistics.median(values):.0f} µs of CPU per answer"
            + (
                ""
                if values is raw
                else f"; raw lookup ÷ this, median of the rounds' "
                f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.check_cpu", description=__doc__)
    parser.add_argument("--database", choices=databases.KINDS, default="postgresql")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument(
        "--in-flight", type=int, default=64, help="requests at once (1: one after another)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where a SQLite file goes")
    parser.add_argument(
        "--served",
        action="store_true",
        help="serve the app with uvicorn on its own core and load it over sockets "
        "(bench.check_served): the check against the check keeping no receipt",
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="--served: seconds per measurement"
    )
    parser.add_argument(
        "--profiles", type=Path, default=None, help="--served: cProfile each variant, stats here"
    )
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="check-cpu-"))
    with databases.scratch(args.database, DATABASE, out) as url:
        now = datetime.now(UTC)
        sellers = SMALL_POLICIES // registry.POLICIES_PER_SELLER
        registry.grow_registry(url, first_seller=0, sellers=sellers, now=now)
        key = issue_key(url, Role.CLAIMS)
        rng = random.Random(1)  # noqa: S311 - a reproducible sample, not a secret
        bodies = [registry.check_body(rng.randrange(sellers), now) for _ in range(1000)]
        if args.served:
            load = ServedLoad(args.rounds, args.seconds, args.in_flight, args.profiles)
            measure_served(url, key, bodies, load, out)
            return
        os.environ.update(
            {
                "ACCELERATOR_DATABASE_URL": url,
                "ACCELERATOR_LOG_LEVEL": "WARNING",
                "ACCELERATOR_SANDBOX_ENABLED": "false",
            }
        )
        import uvloop

        uvloop.run(_measure(key, bodies, Load(args.rounds, args.requests, args.in_flight)))


if __name__ == "__main__":
    main()
