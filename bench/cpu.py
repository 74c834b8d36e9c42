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


def process_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[12]) + int(fields[13])) / _TICKS


def postgres_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (the server is local)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None and fields[0] == "postgres":
                total += (int(fields[12]) + int(fields[13])) / _TICKS
    return total


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
    postgres: float
    machine: tuple[float, float]

    @classmethod
    def take(cls, pids: Mapping[str, int]) -> Snapshot:
        return cls(
            time.monotonic(),
            {name: process_seconds(pid) for name, pid in pids.items()},
            postgres_seconds(),
            machine_seconds(),
        )

    def usage_since(self, before: Snapshot) -> dict[str, float]:
        """Cores used on average between ``before`` and this snapshot (1.0 = one core busy)."""
        wall = max(self.at - before.at, 1e-9)
        usage = {
            f"cpu_{name}": (seconds - before.processes.get(name, seconds)) / wall
            for name, seconds in self.processes.items()
        }
        usage["cpu_postgres"] = (self.postgres - before.postgres) / wall
        busy = self.machine[0] - before.machine[0]
        usage["cpu_machine"] = busy / wall
        return usage
