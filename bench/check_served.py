"""``python -m bench.check_cpu --served [--seconds 3] [--in-flight 64] [--profiles DIR]``: what
a single check's receipt costs as the coverage scenario serves it (uvicorn on its own pinned core,
real sockets, the bench's load generator on the other cores), per answered check, read from
/proc: the server process's CPU (user, and its kernel part apart), how long it waited for its
core and how often it slept or was preempted, and the CPU of the PostgreSQL backends of the
tool's database. Each round measures, in the opposite order every other round (the machine's
load then moves every side alike): the check as served; the same check whose flushes write
nothing (its receipts built, queued and waited for); and the check keeping no receipt
(``/bench/check-without-receipt``). The summary gives each one's medians and the median over
the rounds of each check's difference from the one keeping no receipt.

The server runs :func:`counting_app`: the bench app, with the writer's ``_store`` wrapped to
count flushes and their receipts (``GET /bench/flushes``) and to skip the write for the second
variant (``POST /bench/variant``, which also switches a cProfile on and off per variant with
``--profiles``). The counting is this tool's only: the service has no such counter. The server's
output goes to ``<out>/logs/check-served.log`` and is scanned for tracebacks at the end; every
answer that was not 2xx is printed with its body.
"""

from __future__ import annotations

import cProfile
import json
import os
import statistics
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Litestar, get, post

from bench import cpu, processes
from bench.context import BOOTSTRAP_ADMIN_KEY
from bench.loadgen import FixedRequests, LoadResult, LoadSpec, http_request, run_load

#: What is compared, and whether the receipts' flushes write: the check as served, the same
#: check whose flushes write nothing (the receipts built, queued and waited for), and the check
#: keeping no receipt.
SERVED_ENDPOINTS = {
    "check": ("/v1/coverage/checks", True),
    "check not storing": ("/v1/coverage/checks", False),
    "check keeping no receipt": ("/bench/check-without-receipt", True),
}
_WARM_UP_SECONDS = 3.0


class _FlushCounter:
    """Counts the receipt writer's flushes and their receipts (this process's); ``store`` off
    makes a flush return without writing (a measuring variant, never a service's)."""

    def __init__(self) -> None:
        self.flushes = 0
        self.receipts = 0
        self.store = True
        self.profiles: dict[str, cProfile.Profile] = {}


_COUNTER = _FlushCounter()


def counting_app() -> Litestar:
    """The bench app with ``_store`` counted, and ``GET /bench/flushes`` answering the counts."""
    from accelerator.audit import receipts
    from bench.app import create_bench_app

    store = receipts._store

    async def counted(db: Any, batch: Sequence[Any], known: Any) -> None:
        _COUNTER.flushes += 1
        _COUNTER.receipts += len(batch)
        if _COUNTER.store:
            await store(db, batch, known)

    receipts._store = counted  # type: ignore[assignment]

    @get("/bench/flushes", opt={"exclude_from_auth": True}, include_in_schema=False)
    async def flushes() -> dict[str, int]:
        return {"flushes": _COUNTER.flushes, "receipts": _COUNTER.receipts}

    @post(
        "/bench/variant", opt={"exclude_from_auth": True}, include_in_schema=False, status_code=200
    )
    async def variant(data: dict[str, Any]) -> None:
        _COUNTER.store = bool(data["store"])
        if profile := data.get("profile"):  # [name, "on" | "off", directory]
            name, switch, directory = profile
            profiler = _COUNTER.profiles.setdefault(name, cProfile.Profile(time.thread_time))
            if switch == "on":
                profiler.enable()
            else:
                profiler.disable()
                profiler.dump_stats(Path(directory) / f"{name.replace(' ', '-')}.prof")

    app = create_bench_app()
    app.register(flushes)
    app.register(variant)
    return app


@dataclass(frozen=True)
class _Reading:
    """CPU seconds of the server's threads (by name) and of the tool's database's backends, and
    the writer's counts, at one moment."""

    threads: dict[str, float]
    backends: dict[int, float]
    flushes: int
    receipts: int
    #: The server's main thread: seconds it waited runnable for a core, and its involuntary
    #: context switches (another process took its core).
    waited: float
    preempted: int
    slept: int

    @classmethod
    def take(cls, pid: int, port: int, database: str | None) -> _Reading:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/flushes") as answer:
            counts = json.loads(answer.read())
        waited = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
        status = Path(f"/proc/{pid}/status").read_text()
        preempted = int(status.split("nonvoluntary_ctxt_switches:")[1].split()[0])
        slept = int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
        return cls(
            _threads(pid),
            _backends(database),
            counts["flushes"],
            counts["receipts"],
            waited,
            preempted,
            slept,
        )


def _threads(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid``, summed by thread name."""
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = cpu._stat_fields(f"{pid}/task/{task.name}")
        if fields is not None:
            seconds[fields[0]] = seconds.get(fields[0], 0.0) + cpu._seconds(fields)
            system = f"{fields[0]} (kernel)"
            seconds[system] = seconds.get(system, 0.0) + int(fields[13]) / cpu._TICKS
    return seconds


def _backends(database: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (none for SQLite)."""
    if database is None:
        return {}
    found: dict[int, float] = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres:") and marker in title:
            fields = cpu._stat_fields(entry.name)
            if fields is not None:
                found[int(entry.name)] = cpu._seconds(fields)
    return found


@dataclass
class _Figures:
    """Per answer, in µs, round by round."""

    server: list[float] = field(default_factory=list)
    backends: list[float] = field(default_factory=list)
    threads: dict[str, list[float]] = field(default_factory=dict)
    per_flush: list[float] = field(default_factory=list)
    waited: list[float] = field(default_factory=list)
    preempted: list[float] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    failures: int = 0


@dataclass(frozen=True)
class ServedLoad:
    rounds: int
    seconds: float
    in_flight: int
    #: Where each variant's cProfile statistics go (None: not profiled).
    profiles: Path | None = None


def measure_served(
    url: str, key: str, bodies: list[dict[str, Any]], load: ServedLoad, out: Path
) -> None:
    """Serve the bench app as the coverage scenario does and measure ``SERVED_ENDPOINTS``."""
    cores = processes.CorePlan.for_this_machine()
    port = processes.free_port()
    database = None if url.startswith("sqlite") else url.rsplit("/", 1)[-1].split("?")[0]
    server = processes.start(
        "check-served",
        processes.python(
            "-m", "bench.serve", "--port", str(port), "--app", f"{__name__}:counting_app"
        ),
        logs=out / "logs",
        env={
            "ACCELERATOR_DATABASE_URL": url,
            "ACCELERATOR_LOG_LEVEL": "WARNING",
            "ACCELERATOR_SANDBOX_ENABLED": "false",
            "ACCELERATOR_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_ADMIN_KEY,
        },
        cpus=cores.server,
    )
    print(f"server log: {server.log}; {cores.describe()}", flush=True)
    try:
        processes.wait_until_answers(server, f"http://127.0.0.1:{port}/health/ready")
        sources = {
            name: _source(port, path, key, bodies) for name, (path, _) in SERVED_ENDPOINTS.items()
        }

        def switch(name: str, profile: str | None) -> None:
            variant: dict[str, Any] = {"store": SERVED_ENDPOINTS[name][1]}
            if load.profiles is not None and profile is not None:
                variant["profile"] = [name, profile, str(load.profiles)]
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/bench/variant",
                data=json.dumps(variant).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request):  # noqa: S310 - loopback
                pass

        def send(source: FixedRequests, seconds: float) -> LoadResult:
            return run_load(
                LoadSpec(
                    host="127.0.0.1",
                    port=port,
                    source=source,
                    duration_seconds=seconds,
                    warmup_seconds=0.0,  # every answer counts: CPU is read around the whole load
                    connections=load.in_flight,
                    cpus=cores.load,
                )
            )

        for name, source in sources.items():
            switch(name, None)
            send(source, _WARM_UP_SECONDS)
        figures = {name: _Figures() for name in SERVED_ENDPOINTS}
        order = list(sources.items())
        for number in range(load.rounds):
            line = []
            for name, source in order if number % 2 == 0 else reversed(order):
                switch(name, "on")
                before = _Reading.take(server.pid, port, database)
                result = send(source, load.seconds)
                after = _Reading.take(server.pid, port, database)
                switch(name, "off")
                line.append(_record(figures[name], name, result, before, after))
            print(
                f"round {number}: " + "; ".join(line) + f" (load average {_load():.1f})",
                flush=True,
            )
        _summary(figures)
    finally:
        server.stop()
        _scan_log(server.log)


def _source(port: int, path: str, key: str, bodies: list[dict[str, Any]]) -> FixedRequests:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return FixedRequests(
        tuple(
            http_request(
                "POST", path, host=f"127.0.0.1:{port}", headers=headers, body=json.dumps(b).encode()
            )
            for b in bodies
        )
    )


def _record(
    figures: _Figures, name: str, result: LoadResult, before: _Reading, after: _Reading
) -> str:
    answers = sum(n for status, n in result.statuses.items() if 200 <= status < 300)
    if result.failures:
        figures.failures += result.failures
        print(f"  {name}: {result.failures} failures: {result.statuses} {result.errors} "
              f"{result.samples}", flush=True)  # fmt: skip
    per = 1e6 / max(answers, 1)
    threads = {
        thread: (seconds - before.threads.get(thread, 0.0)) * per
        for thread, seconds in after.threads.items()
    }
    server = sum(value for thread, value in threads.items() if not thread.endswith("(kernel)"))
    backends = sum(s - before.backends.get(pid, 0.0) for pid, s in after.backends.items()) * per
    flushes = after.flushes - before.flushes
    figures.server.append(server)
    figures.waited.append((after.waited - before.waited) * per)
    figures.preempted.append((after.preempted - before.preempted) * per / 1e6)
    figures.slept.append((after.slept - before.slept) * per / 1e6)
    figures.backends.append(backends)
    for thread, value in threads.items():
        figures.threads.setdefault(thread, []).append(value)
    if flushes:
        figures.per_flush.append((after.receipts - before.receipts) / flushes)
    busiest = ", ".join(f"{t} {v:.0f}" for t, v in sorted(threads.items(), key=lambda i: -i[1])[:3])
    return (
        f"{name} {answers / result.duration_seconds:,.0f}/s, server {server:.0f} µs ({busiest})"
        + (f", backends {backends:.0f} µs" if after.backends else "")
        + (f", {figures.per_flush[-1]:.1f} receipts a flush" if flushes else "")
        + f", waited {figures.waited[-1]:.0f} µs, preempted {figures.preempted[-1]:.2f}"
        + f", slept {figures.slept[-1]:.2f}"
    )


def _summary(figures: Mapping[str, _Figures]) -> None:
    """Each endpoint's medians, and the median over the rounds of the check ÷ the check keeping
    no receipt, in the server and in the backends."""
    for name, values in figures.items():
        threads = ", ".join(
            f"{thread} {statistics.median(v):.0f}" for thread, v in sorted(values.threads.items())
        )
        print(
            f"{name}: server median {statistics.median(values.server):.0f} µs a check "
            f"(threads: {threads}); backends {statistics.median(values.backends):.0f} µs"
            + (
                f"; {statistics.median(values.per_flush):.1f} receipts a flush"
                if values.per_flush
                else ""
            )
            + f"; waited for a core {statistics.median(values.waited):.0f} µs, preempted "
            f"{statistics.median(values.preempted):.2f} times a check, slept "
            f"{statistics.median(values.slept):.2f}" + f"; {values.failures} failures",
            flush=True,
        )
    *variants, bare = SERVED_ENDPOINTS
    for name in variants:
        for part in ("server", "backends") if any(figures[bare].backends) else ("server",):
            pairs = list(
                zip(getattr(figures[name], part), getattr(figures[bare], part), strict=True)
            )
            differences = [a - b for a, b in pairs]
            print(
                f"{name} − {bare}, {part}: median of the rounds' "
                f"{statistics.median(differences):.0f} µs a check "
                f"({min(differences):.0f} to {max(differences):.0f})",
                flush=True,
            )


def _scan_log(log: Path) -> None:
    """Print every traceback and error line the server logged."""
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = text.splitlines()
    flagged = [i for i, line in enumerate(lines) if "Traceback" in line or "ERROR" in line]
    print(f"server log: {len(lines)} lines, {len(flagged)} with a traceback or error", flush=True)
    for i in flagged[:5]:
        print("\n".join(lines[i : i + 40]), flush=True)


def _load() -> float:
    return os.getloadavg()[0]
