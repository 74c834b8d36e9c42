"""A description of the machine a run measured, for the report."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_PACKAGES = ("litestar", "uvicorn", "uvloop", "httptools", "sqlalchemy", "asyncpg", "aiohttp")


@dataclass(frozen=True)
class Machine:
    date: str
    cpu_model: str
    cores: int
    usable_cores: int
    memory_gb: float
    os: str
    python: str
    postgresql: str
    packages: dict[str, str]

    def one_line(self) -> str:
        return (
            f"{self.cpu_model}, {self.cores} cores ({self.usable_cores} usable), "
            f"{self.memory_gb:.0f} GB RAM, {self.os}, Python {self.python}, "
            f"PostgreSQL {self.postgresql}; measured {self.date}"
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def describe(postgresql: str) -> Machine:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Machine(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 0,
        usable_cores=usable or 0,
        memory_gb=_memory_gb(),
        os=f"{platform.system()} {platform.release()}",
        python=sys.version.split()[0],
        postgresql=postgresql,
        packages={name: _package_version(name) for name in _PACKAGES},
    )
