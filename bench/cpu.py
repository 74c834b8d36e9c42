"""CPU time of the processes in a measurement, from /proc (Linux), to say what limited a figure.

A figure limited by the server shows the server near 100% of its core; one limited by the
database shows PostgreSQL busy; one disturbed by other work on the machine shows the machine
busier than the processes of the run account for.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return [raw[raw.index("(") + 1 : raw.rindex(")")], *raw[raw.rindex(")") + 2 :].split()]


def _seconds(fields: list[str]) -> float:
    return (int(fields[12]) + int(fields[13])) / _TICKS


@dataclass(frozen=True)
class ProcessTable:
    """Every process's parent, command name and CPU seconds, from one pass over /proc."""

    parents: dict[int, int]
    names: dict[int, str]
    seconds: dict[int, float]

    @classmethod
    def read(cls) -> ProcessTable:
        parents: dict[int, int] = {}
        names: dict[int, str] = {}
        seconds: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (fields := _stat_fields(entry.name)) is not None:
                pid = int(entry.name)
                parents[pid], names[pid], seconds[pid] = int(fields[2]), fields[0], _seconds(fields)
        return cls(parents, names, seconds)

    def tree_seconds(self, root: int) -> float:
        """CPU seconds of ``root`` and its living descendants: ``serve --workers 2``'s worker
        processes are children of uvicorn's supervisor, which itself does almost nothing."""
        children: dict[int, list[int]] = {}
        for pid, parent in self.parents.items():
            children.setdefault(parent, []).append(pid)
        total, stack = 0.0, [root]
        while stack:
            pid = stack.pop()
            total += self.seconds.get(pid, 0.0)
            stack.extend(children.get(pid, ()))
        return total

    def postgres_seconds(self) -> dict[int, float]:
        """CPU time of each PostgreSQL process on this machine (the server is local)."""
        return {pid: s for pid, s in self.seconds.items() if self.names[pid] == "postgres"}


def machine_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, summed over cores."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / _TICKS, sum(values) / _TICKS


@dataclass(frozen=True)
class Snapshot:
    at: float
    processes: dict[str, float]
    postgres: dict[int, float]  # by backend pid
    machine: tuple[float, float]

    @classmethod
    def take(cls, pids: Mapping[str, int]) -> Snapshot:
        table = ProcessTable.read()
        return cls(
            time.monotonic(),
            {name: table.tree_seconds(pid) for name, pid in pids.items()},
            table.postgres_seconds(),
            machine_seconds(),
        )

    def usage_since(self, before: Snapshot) -> dict[str, float]:
        """Cores used on average between ``before`` and this snapshot (1.0 = one core busy)."""
        wall = max(self.at - before.at, 1e-9)
        usage = {
            f"cpu_{name}": (seconds - before.processes.get(name, seconds)) / wall
            for name, seconds in self.processes.items()
        }
        # Backend by backend: one that ended in between (another client's connection closed)
        # takes its CPU time out of a plain sum, which then reads negative on a shared machine.
        # Counted this way, its last moments are missed instead; a new one counts from zero.
        postgres = sum(s - before.postgres.get(pid, 0.0) for pid, s in self.postgres.items())
        usage["cpu_postgres"] = postgres / wall
        busy = self.machine[0] - before.machine[0]
        usage["cpu_machine"] = busy / wall
        return usage
