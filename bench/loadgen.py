"""An HTTP/1.1 load generator that runs in processes of its own, pinned away from the server.

Open loop (``rate`` set): requests are due at a fixed arrival rate whatever the server does, and
each latency is measured from the moment the request was *due*, not from when a connection was
free to send it. A server that stalls is charged for every request it held up, so the tail is
honest (coordinated omission corrected, as wrk2 does). Closed loop (``rate`` None): each
connection sends its next request as soon as the previous one is answered, which measures the
most the server sustains at that concurrency (as wrk does).

Raw sockets on uvloop rather than an HTTP client library: a load generator must outrun the server
it measures on one core, and the client libraries cost more per request than a bare endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, cast

from bench.stats import LatencySummary

# How many non-2xx answers (and transport errors) to keep for the report, per process.
_SAMPLES = 5
# How often the generator looks for requests that have waited longer than the timeout, and
# for connections idle longer than the idle limit.
_SWEEP_SECONDS = 0.1
# The default of LoadSpec.idle_limit_seconds: a connection idle this long is closed and
# replaced. The API's server (uvicorn) closes a connection idle for 5 s, and a request sent on
# it as it does so meets a reset (RFC 9112 section 9.3.1: a client must be ready for a server
# closing an idle connection). So the generator keeps its idle connections well under the
# server's limit, as HTTP clients' pools do: the soak drill lost 2 of 268 requests to
# "Connection reset by peer" on a machine at load average 20, where an open-loop burst
# reached connections idle for nearly 5 s.
IDLE_LIMIT_SECONDS = 2.0


class RequestSource(Protocol):
    """Builds the raw bytes of request number ``index`` (unique across processes)."""

    def request(self, index: int) -> bytes: ...


def http_request(
    method: str,
    path: str,
    *,
    host: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """The wire form of one HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class FixedRequests:
    """Cycles through prebuilt requests (e.g. the same check for many sellers)."""

    raw: tuple[bytes, ...]

    def request(self, index: int) -> bytes:
        return self.raw[index % len(self.raw)]


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    source: RequestSource
    duration_seconds: float
    warmup_seconds: float = 1.0
    connections: int = 64
    # Requests per second across all processes; None runs closed loop.
    rate: float | None = None
    timeout_seconds: float = 30.0
    processes: int = 1
    # Cores the generator may use (the server runs on the others); None: anywhere.
    cpus: frozenset[int] | None = None
    # Idle connections are closed (and replaced) after this long: below the server's own limit.
    idle_limit_seconds: float = IDLE_LIMIT_SECONDS


@dataclass
class LoadResult:
    """What one run measured; latencies are seconds, measured as the module docstring says."""

    mode: str
    offered_rate: float | None
    duration_seconds: float
    connections: int
    latencies: list[float] = field(default_factory=list)
    # Open loop: how late each request left after it was due (the generator's own delay).
    send_lags: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Answers per second within the measured window (any status)."""
        return self.completed / self.duration_seconds if self.duration_seconds else 0.0

    @property
    def failures(self) -> int:
        """Transport errors, timeouts and answers that were not 2xx."""
        bad = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return bad + sum(self.errors.values())

    def latency(self) -> LatencySummary:
        return LatencySummary.of(self.latencies)

    def send_lag(self) -> LatencySummary:
        return LatencySummary.of(self.send_lags)

    def merge(self, other: LoadResult) -> None:
        self.latencies += other.latencies
        self.send_lags += other.send_lags
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.samples += other.samples[: max(0, _SAMPLES - len(self.samples))]


class _Response:
    """One parsed response, or None while its bytes have not all arrived."""

    __slots__ = ("body", "close", "size", "status")

    def __init__(self, status: int, body: bytes, size: int, close: bool) -> None:
        self.status, self.body, self.size, self.close = status, body, size, close


def _chunked_end(buffer: bytearray, start: int) -> tuple[int, bytes] | None:
    body, position = bytearray(), start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        chunk_start = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            return None if trailer_end < 0 else (trailer_end + 4, bytes(body))
        if len(buffer) < chunk_start + size + 2:
            return None
        body += buffer[chunk_start : chunk_start + size]
        position = chunk_start + size + 2


def parse_response(buffer: bytearray) -> _Response | None:
    """Parse one response at the start of ``buffer`` (Content-Length or chunked)."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).lower()
    status = int(head[9:12])
    close = b"\r\nconnection: close" in head
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end >= 0 else None])
        end = head_end + 4 + length
        if len(buffer) < end:
            return None
        return _Response(status, bytes(buffer[head_end + 4 : end]), end, close)
    if b"\r\ntransfer-encoding: chunked" in head:
        found = _chunked_end(buffer, head_end + 4)
        if found is None:
            return None
        return _Response(status, found[1], found[0], close)
    return _Response(status, b"", head_end + 4, close)


class _Connection(asyncio.Protocol):
    def __init__(self, generator: _Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False
        self.due = 0.0
        self.sent = 0.0
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.generator.ready(self)

    def send(self, raw: bytes, due: float) -> None:
        assert self.transport is not None
        self.busy, self.due, self.sent = True, due, time.perf_counter()
        self.transport.write(raw)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.busy:
            response = parse_response(self.buffer)
            if response is None:
                return
            del self.buffer[: response.size]
            self.busy = False
            self.generator.answered(self, response)
            if response.close and self.transport is not None:
                self.transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.generator.lost(self, exc)


class _Generator:
    def __init__(self, spec: LoadSpec, process: int) -> None:
        self.spec = spec
        self.process = process
        self.loop = asyncio.get_running_loop()
        self.connections = max(1, spec.connections // spec.processes)
        self.rate = None if spec.rate is None else spec.rate / spec.processes
        self.result = LoadResult(
            mode="closed" if self.rate is None else "open",
            offered_rate=spec.rate,
            duration_seconds=spec.duration_seconds,
            connections=spec.connections,
        )
        self.idle: list[_Connection] = []
        self.queue: deque[float] = deque()
        self.live: set[_Connection] = set()
        self.sequence = 0
        # Open loop: how many requests have come due so far.
        self.due_count = 0
        self.started = 0.0
        self.measure_from = 0.0
        self.stop_at = 0.0
        self.released = False
        self.finished = self.loop.create_future()

    def _next_raw(self) -> bytes:
        index = self.process + self.sequence * self.spec.processes
        self.sequence += 1
        return self.spec.source.request(index)

    async def run(self) -> LoadResult:
        self.started = time.perf_counter() + 0.05
        self.measure_from = self.started + self.spec.warmup_seconds
        self.stop_at = self.measure_from + self.spec.duration_seconds
        await asyncio.gather(*(self._connect() for _ in range(self.connections)))
        if self.rate is not None:
            self.loop.call_later(max(0.0, self.started - time.perf_counter()), self._release)
        sweeper = self.loop.create_task(self._sweep())
        try:
            await asyncio.wait_for(self.finished, self.stop_at - time.perf_counter() + 60)
        except TimeoutError:
            self.result.errors["generator_stuck"] += 1
        finally:
            sweeper.cancel()
            for connection in list(self.live):
                if connection.transport is not None:
                    connection.transport.abort()
        return self.result

    async def _connect(self) -> None:
        try:
            await self.loop.create_connection(
                lambda: _Connection(self), self.spec.host, self.spec.port
            )
        except OSError as exc:
            self._error(f"connect: {type(exc).__name__}", str(exc))
            if time.perf_counter() < self.stop_at:
                await asyncio.sleep(0.05)
                self.loop.create_task(self._connect())

    def _error(self, kind: str, detail: str) -> None:
        self.result.errors[kind] += 1
        if len(self.result.samples) < _SAMPLES:
            self.result.samples.append(f"{kind}: {detail[:300]}")

    def ready(self, connection: _Connection) -> None:
        self.live.add(connection)
        self._give_work(connection)

    def _give_work(self, connection: _Connection) -> None:
        now = time.perf_counter()
        if self.rate is None:
            if now < self.stop_at:
                connection.send(self._next_raw(), now)
                return
        elif self.queue:
            due = self.queue.popleft()
            connection.send(self._next_raw(), due)
            if due >= self.measure_from:
                self.result.send_lags.append(connection.sent - due)
            return
        connection.idle_since = now
        self.idle.append(connection)
        self._maybe_finish()

    def _release(self) -> None:
        """Make every request due by now available, then sleep until the next one is due."""
        assert self.rate is not None
        now = time.perf_counter()
        while True:
            due = self.started + self.due_count / self.rate
            if due > now or due >= self.stop_at:
                break
            self.due_count += 1
            self.queue.append(due)
        while self.queue and self.idle:
            connection = self.idle.pop()
            if now - connection.idle_since > self.spec.idle_limit_seconds:
                # Its replacement (lost() connects one) takes the work when it is ready.
                if connection.transport is not None:
                    connection.transport.close()
                continue
            self._give_work(connection)
        if due >= self.stop_at:
            self.released = True
            self._maybe_finish()
            return
        self.loop.call_later(max(0.0, due - time.perf_counter()), self._release)

    def answered(self, connection: _Connection, response: _Response) -> None:
        now = time.perf_counter()
        if connection.due >= self.measure_from and connection.due < self.stop_at:
            self.result.latencies.append(now - connection.due)
            self.result.statuses[response.status] += 1
            if not 200 <= response.status < 300 and len(self.result.samples) < _SAMPLES:
                self.result.samples.append(
                    f"{response.status}: {response.body[:300].decode('utf-8', 'replace')}"
                )
        if not response.close:
            self._give_work(connection)

    def lost(self, connection: _Connection, exc: Exception | None) -> None:
        self.live.discard(connection)
        with contextlib.suppress(ValueError):
            self.idle.remove(connection)
        if connection.busy:
            connection.busy = False
            if connection.due >= self.measure_from:
                self._error("connection_lost", repr(exc))
        if time.perf_counter() < self.stop_at or self.queue:
            self.loop.create_task(self._connect())
        self._maybe_finish()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            now = time.perf_counter()
            stale = now - self.spec.idle_limit_seconds
            for connection in [c for c in self.idle if c.idle_since < stale]:
                self.idle.remove(connection)  # lost() connects its replacement
                if connection.transport is not None:
                    connection.transport.close()
            limit = now - self.spec.timeout_seconds
            for connection in list(self.live):
                if connection.busy and connection.sent < limit and connection.transport:
                    connection.busy = False
                    if connection.due >= self.measure_from:
                        self._error("timeout", f"no answer in {self.spec.timeout_seconds} s")
                    connection.transport.abort()

    def _maybe_finish(self) -> None:
        if self.finished.done():
            return
        over = self.released if self.rate is not None else time.perf_counter() >= self.stop_at
        if over and not self.queue and not any(c.busy for c in self.live):
            self.finished.set_result(None)


def _pin(cpus: Iterable[int] | None) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(cpus))


def _run_in_process(spec: LoadSpec, process: int) -> LoadResult:
    _pin(spec.cpus)
    try:
        import uvloop

    except ImportError:  # pragma: no cover - uvloop is absent on Windows only
        return asyncio.run(_generate(spec, process))
    return uvloop.run(_generate(spec, process))


async def _generate(spec: LoadSpec, process: int) -> LoadResult:
    return await _Generator(spec, process).run()


def run_load(spec: LoadSpec) -> LoadResult:
    """Run ``spec`` in ``spec.processes`` fresh processes and merge what they measured."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=spec.processes, mp_context=context) as pool:
        futures = [pool.submit(_run_in_process, spec, n) for n in range(spec.processes)]
        parts = [f.result() for f in futures]
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    return merged
