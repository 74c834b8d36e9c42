"""Child processes of a run (server, sandbox, baselines): start, wait until they answer, stop.

Also which cores each kind of process gets. With three or more cores the server, the simulated
insurers and the load generator each get their own; with two, the server gets one and everything
else shares the other; with one, nothing is pinned (and the report says so).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final


@dataclass(frozen=True)
class CorePlan:
    server: frozenset[int] | None
    upstream: frozenset[int] | None
    load: frozenset[int] | None

    @classmethod
    def for_this_machine(cls) -> CorePlan:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cores) < 2:
            return cls(None, None, None)
        server = frozenset(cores[:1])
        if len(cores) == 2:
            rest = frozenset(cores[1:])
            return cls(server, rest, rest)
        return cls(server, frozenset(cores[1:2]), frozenset(cores[2:]))

    def for_api(self, processes: int) -> frozenset[int] | None:
        """Where ``processes`` API processes run: one on the server's core; more on every core
        of the run, shared with the insurers, the load generator and PostgreSQL (pinning each
        worker to a core of its own would leave the others nothing on a 2-core machine)."""
        if processes == 1 or self.server is None:
            return self.server
        return self.server | (self.upstream or frozenset()) | (self.load or frozenset())

    def describe(self) -> str:
        def show(cores: frozenset[int] | None) -> str:
            return "unpinned" if cores is None else ",".join(map(str, sorted(cores)))

        return (
            f"server on core {show(self.server)}, simulated insurers on {show(self.upstream)}, "
            f"load generator on {show(self.load)}"
        )


#: Where :func:`free_port` looks: below Linux's default ephemeral range (32768-60999).
_LISTEN_PORTS: Final = range(10_000, 32_768)
_EPHEMERAL_RANGE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server about to start there.

    Chosen at random outside the kernel's ephemeral range, not by binding to port 0: a port the
    kernel hands out that way is one it may hand out again, to the next outgoing connection of
    any process, before the server binds it. Drills then failed with "Address already in use"
    when two test suites shared the machine (each worker holding many client connections)."""
    try:
        first_ephemeral = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = _LISTEN_PORTS.stop
    ports = range(_LISTEN_PORTS.start, min(_LISTEN_PORTS.stop, first_ephemeral))
    for port in random.sample(ports, min(len(ports), 50)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken: try another
            return port
    with socket.socket() as sock:  # no room below the ephemeral range: the kernel's choice
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def cpu_list(cores: frozenset[int] | None) -> str:
    return "" if cores is None else ",".join(map(str, sorted(cores)))


@dataclass
class Child:
    """A running child process whose output goes to ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (the crash drills want exactly that)."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``timeout``."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    name: str,
    argv: Sequence[str],
    *,
    logs: Path,
    env: Mapping[str, str] | None = None,
    cpus: frozenset[int] | None = None,
) -> Child:
    """Start ``argv`` (pinned to ``cpus`` if given) with its output in ``logs/<name>.log``."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    command = list(argv)
    if cpus is not None and Path("/usr/bin/taskset").exists():
        command = ["/usr/bin/taskset", "-c", cpu_list(cpus), *command]
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return Child(name, process, log)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


#: How long a child may take to answer at all. The wait ends at the first answer, and at once if
#: the child dies: the limit only decides when a hung start is given up. 60 s was not enough on a
#: 2-core machine at load ~20, where `make test` starts the schemathesis drill's six servers,
#: six sandboxes and six schemathesis processes at once (two of its parts failed that way).
START_TIMEOUT_SECONDS = 180.0


def wait_until_answers(child: Child, url: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Poll ``url`` until it answers 2xx; raise with the child's log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited ({child.process.returncode}):\n{child.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if 200 <= response.status < 300:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not answer {url} within {timeout} s:\n{child.tail()}")
