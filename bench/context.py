"""What every scenario shares: where to write, how long to measure, which cores, the results."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import cpu, processes, profiles
from bench.loadgen import LoadSpec, RequestSource, run_load
from bench.results import Comparison, Measurement

BOOTSTRAP_ADMIN_KEY = "bench-bootstrap-admin-key"


@dataclass(frozen=True)
class Timing:
    warmup_seconds: float
    duration_seconds: float

    @classmethod
    def for_mode(cls, quick: bool) -> Timing:
        return cls(1.0, 3.0) if quick else cls(3.0, 10.0)


@dataclass
class RunContext:
    out: Path
    quick: bool
    cores: processes.CorePlan
    timing: Timing
    # Sample the server with py-spy during each measurement of a service endpoint.
    profile: bool = False
    measurements: list[Measurement] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Processes whose CPU use each measurement reports (name -> pid); "server" is the server
    # started last, unless a measurement loads another (``serving``).
    watched: dict[str, int] = field(default_factory=dict)
    # The servers running (port -> pid): with two side by side, a measurement's server CPU and
    # profile are those of the one it loads.
    serving: dict[int, int] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.out / "logs"

    def say(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def measure(
        self,
        scenario: str,
        database: str,
        label: str,
        port: int,
        source: RequestSource,
        *,
        rate: float | None = None,
        connections: int = 64,
        timeout_seconds: float = 30.0,
        **extra_per_answer: float,
    ) -> Measurement:
        """Load ``port`` from the load-generator cores and record what it measured.

        The server whose CPU ("server") and profile it reports is the one serving ``port``
        (several may run side by side); a port none of :meth:`server`'s serves (the bare
        fan-out) is not profiled, and "server" is then the one started last.

        ``extra_per_answer`` names figures proportional to answers (e.g. ``decisions=100`` for a
        batch of 100), reported per second of the measured window.
        """
        pid = self.serving.get(port)
        watched = self.watched if pid is None else {**self.watched, "server": pid}
        recording = None
        if self.profile and pid is not None:
            slug = re.sub(r"[^a-z0-9]+", "-", f"{scenario} {database} {label} {rate}".lower())
            recording = profiles.record(
                pid,
                self.timing.warmup_seconds + self.timing.duration_seconds,
                self.out / "profiles" / f"{slug.strip('-')}.txt",
            )
        before = cpu.Snapshot.take(watched)
        result = run_load(
            LoadSpec(
                host="127.0.0.1",
                port=port,
                source=source,
                duration_seconds=self.timing.duration_seconds,
                warmup_seconds=self.timing.warmup_seconds,
                connections=connections,
                rate=rate,
                timeout_seconds=timeout_seconds,
                cpus=self.cores.load,
            )
        )
        usage = cpu.Snapshot.take(watched).usage_since(before)
        ok = sum(n for status, n in result.statuses.items() if 200 <= status < 300)
        extra = {
            f"{name}_per_second": per * ok / result.duration_seconds
            for name, per in extra_per_answer.items()
        } | usage
        measurement = Measurement.of(scenario, database, label, result, **extra)
        self.measurements.append(measurement)
        latency = measurement.latency_ms
        self.say(
            f"{scenario}/{database}: {label} [{measurement.load()}]: "
            f"{measurement.throughput:,.0f} req/s, p50 {latency.p50:.2f} ms, "
            f"p99 {latency.p99:.2f} ms, failures {measurement.failures}"
            + "".join(f", {k} {v:,.0f}" for k, v in extra.items() if not k.startswith("cpu_"))
            + "; cores busy: "
            + ", ".join(f"{k[4:]} {v:.2f}" for k, v in usage.items())
        )
        if measurement.failures:
            self.say(f"  first failures: {measurement.samples[:3]}")
        if recording is not None:
            summary = recording.finish()
            self.say("  profile (top inclusive):\n" + "\n".join(summary.splitlines()[:14]))
        return measurement

    def compare(self, comparison: Comparison) -> None:
        self.comparisons.append(comparison)
        met = {None: "", True: " (target met)", False: " (target MISSED)"}[comparison.met]
        self.say(
            f"{comparison.scenario}/{comparison.database}: {comparison.metric} "
            f"{comparison.value:,.2f} vs {comparison.baseline} {comparison.baseline_value:,.2f} "
            f"-> ratio {comparison.ratio:.2f}{met}"
        )

    @contextlib.contextmanager
    def server(
        self,
        name: str,
        env: Mapping[str, str],
        *,
        ready_path: str = "/health/ready",
        workers: int = 1,
        app: str = "bench.app:create_bench_app",
    ) -> Iterator[int]:
        """Serve ``app`` (by default the service plus baselines) with ``workers`` uvicorn worker
        processes (see ``CorePlan.for_api`` for their cores); yields its port. The measured
        server CPU is the whole process tree's."""
        port = processes.free_port()
        child = processes.start(
            name,
            processes.python(
                "-m", "bench.serve", "--port", str(port), "--workers", str(workers), "--app", app
            ),
            logs=self.logs,
            env={
                "ACCELERATOR_LOG_LEVEL": "WARNING",
                "ACCELERATOR_SANDBOX_ENABLED": "false",
                "ACCELERATOR_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_ADMIN_KEY,
                **env,
            },
            cpus=self.cores.for_api(workers),
        )
        try:
            processes.wait_until_answers(child, f"http://127.0.0.1:{port}{ready_path}")
            self.serving[port] = self.watched["server"] = child.pid
            yield port
            # uvicorn stops the whole server when one of several workers fails to start (e.g.
            # PostgreSQL refused a connection); what was measured after that is not the figure.
            expect(child.alive(), f"{name} exited while being measured:\n{child.tail()}")
        finally:
            self.serving.pop(port, None)
            if self.watched.get("server") == child.pid:
                del self.watched["server"]
                if self.serving:  # another still runs: the one started before
                    self.watched["server"] = list(self.serving.values())[-1]
            child.stop()


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """One request (for set-up and sanity checks, not for measuring): status and JSON answer."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            status, text = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text.decode(errors="replace")


def expect(condition: bool, message: str) -> None:
    """Stop the run when a scenario's set-up or sanity check fails (not a measurement)."""
    if not condition:
        raise RuntimeError(message)
