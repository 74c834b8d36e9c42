"""CPU time per quote request, measured inside the serving process: a steadier figure than the
fan-out scenario's CPU per request when other work shares the machine (docs/performance.md).

``python -m bench.fanout_cpu [--database postgresql|sqlite] [--rounds 4] [--requests 400]
[--in-flight 50] [--sample 40]`` builds the app as the bench serves it (``create_bench_app()``
from ``ACCELERATOR_*`` settings) in this process and sends it
``POST /v1/quote-requests?wait=true`` through ASGI directly, 50 in flight (``--in-flight``),
with the fan-out scenario's ten simulated insurers (50 to 200 ms) in a process of their own.
Each round prints this process's CPU time (``time.process_time``: the app, its event loop and,
on SQLite, the database engine) per answered request. To compare two versions of the code, run
it alternately from each (``PYTHONPATH`` set to the tree's root; an older tree without this
module can be given a copy of it).

``--sample N`` also prints where the measured rounds' CPU went: the N functions found most
often on the stack, sampled by ``SIGPROF`` every millisecond of this process's CPU time, or at
the kernel's tick if that is longer (about every 4 ms here; the report says). A function counts
once per sample however deep it recurs; time spent in C (the event loop, the drivers' encoders)
counts for the Python function that called it.

It uses a database of its own (``accelerator_bench_fanout_cpu`` on the bench's PostgreSQL
server, or a file under the output directory), so it does not wait for a running benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from accelerator.auth.principal import Role
from bench import databases, processes
from bench.asgi_client import App, call, serving
from bench.keys import issue_key
from bench.scenarios.fanout import (
    CONCURRENT,
    DEADLINE_SECONDS,
    FASTEST_MS,
    INSURERS,
    SECRET,
    SLOWEST_MS,
    start_upstream,
)
from bench.sellers import SELLER_ID, seller_facts
from bench.upstream import provider_settings, spread

#: The tool's own database (``accelerator_bench_fanout_cpu``, or ``fanout_cpu.db`` under
#: ``--out``).
DATABASE = "fanout_cpu"
WARM_UP = 100


class _Sampler:
    """Counts, every ``interval`` of this process's CPU time (or the kernel's tick, if longer),
    each function on the stack of whatever Python code is running, once per sample; not the
    frames every sample shares (this module's ``main`` and the event loop's ``run`` above)."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples = 0
        self.cpu = 0.0
        self.seen: collections.Counter[str] = collections.Counter()

    def _sample(self, _signal: int, frame: FrameType | None) -> None:
        self.samples += 1
        names = set()
        while frame is not None and frame.f_code.co_filename not in _SHARED_FILES:
            code = frame.f_code
            names.add(f"{_short(code.co_filename)}:{code.co_name}")
            frame = frame.f_back
        self.seen.update(names)

    @contextmanager
    def running(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        started = time.process_time()
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
            signal.signal(signal.SIGPROF, previous)
            self.cpu += time.process_time() - started

    def report(self, top: int) -> None:
        every = self.cpu / max(self.samples, 1) * 1000
        print(
            f"{self.samples} samples (one per {every:.2f} ms of CPU); share of them with the "
            "function on the stack:"
        )
        for name, count in self.seen.most_common(top):
            print(f"{100 * count / max(self.samples, 1):5.1f}% {name}")


# Where every sample's stack ends: the event loop's entry points and this module.
_SHARED_FILES = frozenset({asyncio.runners.__file__, __file__})


def _short(filename: str) -> str:
    """``filename`` from its package on (``aiohttp/client.py``, ``asyncio/tasks.py``)."""
    for marker in ("/site-packages/", "/lib/python3."):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            return tail if marker == "/site-packages/" else tail.split("/", 1)[-1]
    return filename.removeprefix(str(Path(__file__).resolve().parent.parent) + "/")


async def _measure(
    key: str, rounds: int, requests: int, in_flight: int, sampler: _Sampler | None
) -> list[float]:
    from bench.app import create_bench_app

    app: App = create_bench_app()
    async with serving(app):
        status, answer = await call(
            app, key, "PUT", f"/v1/sellers/{SELLER_ID}/profile", seller_facts()
        )
        if status != 200:
            raise RuntimeError(f"seller profile: {status} {answer[:300]!r}")

        async def load(count: int) -> int:
            left, answered = count, 0

            async def client() -> None:
                nonlocal left, answered
                while left > 0:
                    left -= 1
                    status, _ = await call(
                        app, key, "POST", "/v1/quote-requests?wait=true", {"seller_id": SELLER_ID}
                    )
                    answered += status == 200

            await asyncio.gather(*(client() for _ in range(in_flight)))
            return answered

        await load(WARM_UP)
        per_request = []
        for number in range(rounds):
            cpu, wall = time.process_time(), time.perf_counter()
            if sampler is None:
                answered = await load(requests)
            else:
                with sampler.running():
                    answered = await load(requests)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            per_request.append(cpu / max(answered, 1) * 1000)
            print(
                f"round {number}: {per_request[-1]:.3f} ms of CPU per request ({answered} of "
                f"{requests} answered 200, {answered / wall:.0f}/s, load average "
                f"{os.getloadavg()[0]:.1f})",
                flush=True,
            )
        return per_request


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout_cpu", description=__doc__)
    parser.add_argument("--database", choices=databases.KINDS, default="postgresql")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument(
        "--in-flight", type=int, default=CONCURRENT, help="requests in flight at once"
    )
    parser.add_argument(
        "--sample", type=int, default=0, metavar="N", help="print the N functions most on the stack"
    )
    parser.add_argument("--out", type=Path, default=None, help="logs (and a SQLite file)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="fanout-cpu-"))
    with databases.scratch(args.database, DATABASE, out) as url:
        upstream, insurers = start_upstream(
            _Context(out),
            spread(INSURERS, FASTEST_MS, SLOWEST_MS),  # type: ignore[arg-type]
        )
        try:
            key = issue_key(url, Role.SELLER, SELLER_ID)
            os.environ.update(
                {
                    "ACCELERATOR_DATABASE_URL": url,
                    "ACCELERATOR_PROVIDERS": json.dumps(
                        provider_settings(
                            insurers, "http://127.0.0.1:1/v1/webhooks/insurers", SECRET
                        )
                    ),
                    "ACCELERATOR_QUOTE_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
                    "ACCELERATOR_INSURER_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
                }
            )
            if args.database == "postgresql":
                # As in production: webhook deliveries are applied by `accelerator worker`, so the
                # in-process workers' polls do not weigh on the figure.
                os.environ["ACCELERATOR_INBOX_WORKER"] = "external"
            import uvloop

            sampler = _Sampler() if args.sample else None
            per_request = uvloop.run(
                _measure(key, args.rounds, args.requests, args.in_flight, sampler)
            )
            print(f"median {statistics.median(per_request):.3f} ms of CPU per request", flush=True)
            if sampler is not None:
                sampler.report(args.sample)
        finally:
            upstream.stop()


class _Context:
    """What start_upstream needs of a run's context: where logs go and which cores to use."""

    def __init__(self, out: Path) -> None:
        self.logs = out
        self.cores = processes.CorePlan.for_this_machine()


if __name__ == "__main__":
    main()
