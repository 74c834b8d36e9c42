"""Sampling profiles of the server under load (py-spy), summarised for the report.

``py-spy`` is not a project dependency: install it where you like (``pip install py-spy``) and
put it on ``PATH``; without it, ``--profile`` says so and measures without profiling. It samples
the running server from outside, so the server runs unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


def py_spy() -> str | None:
    return shutil.which("py-spy")


@dataclass
class Recording:
    process: subprocess.Popen[bytes]
    raw: Path

    def finish(self, top: int = 25) -> str:
        """Wait for py-spy to write its samples; return the summary (also beside the samples)."""
        self.process.wait(timeout=120)
        summary = summarise(self.raw.read_text(), top) if self.raw.exists() else "no samples"
        self.raw.with_suffix(".summary.txt").write_text(summary + "\n")
        return summary


def record(pid: int, seconds: float, raw: Path) -> Recording | None:
    """Sample ``pid`` for ``seconds`` into ``raw`` (collapsed stacks); None without py-spy."""
    binary = py_spy()
    if binary is None:
        return None
    raw.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(  # noqa: S603 - py-spy from PATH, our own pid
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Recording(process, raw)


def _frame(frame: str) -> tuple[str, str]:
    """``(function, module path)`` of one py-spy frame ("function (path/module.py:line)")."""
    name, _, where = frame.partition(" (")
    module = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "lib/python3.12/", "lib/python3.13/"):
        if marker in module:
            module = module.split(marker, 1)[1]
            break
    else:
        for ours in OURS:
            if f"/{ours}/" in module:
                module = ours + "/" + module.split(f"/{ours}/", 1)[1]
    return name, module


OURS = ("accelerator", "providers", "schemas", "bench")


def _package(module: str) -> str:
    top = module.split("/", 1)[0]
    return top.removesuffix(".py") if "/" in module or module.endswith(".py") else "other"


def summarise(collapsed: str, top: int = 20) -> str:
    """Where the server's time went, from py-spy's collapsed stacks: on-CPU samples by package
    (of the innermost Python frame), our own functions with what they call, and the functions
    that are busiest themselves. Native code (asyncpg's protocol, msgspec) counts towards the
    Python function that called it."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        name, module = frames[-1]
        own[f"{name} ({module})"] += count
        packages[_package(module)] += count
        for ours in {f"{n} ({m})" for n, m in frames if m.startswith(OURS)}:
            inclusive[ours] += count
    if not total:
        return "no samples"

    def share(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [f"{total} samples", "", "by package (innermost Python frame):"]
    lines += [f"  {share(n)}  {p}" for p, n in packages.most_common(12)]
    lines += ["", "our functions, with everything they call:"]
    lines += [f"  {share(n)}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "busiest functions themselves:"]
    lines += [f"  {share(n)}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)
