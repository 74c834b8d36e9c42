"""Reliability drills: faults, crashes, fuzzing and a soak, against the real commands.

Each drill starts what it needs (``accelerator sandbox``, ``accelerator serve``, ``accelerator
worker``) as separate processes, does its work, and returns a :class:`DrillResult` whose checks
say what a user would notice. ``python -m bench drill <name>`` runs one; ``tests/drills/`` runs
short versions of each in CI.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Check:
    what: str
    passed: bool
    detail: str = ""


@dataclass
class DrillResult:
    name: str
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def check(self, what: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(what, passed, detail))
        return passed

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def text(self) -> str:
        lines = [f"drill {self.name}: {'PASSED' if self.passed else 'FAILED'}"]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.passed else 'FAIL'}] {c.what}")
            if c.detail and (not c.passed or len(c.detail) < 200):
                lines.append(f"         {c.detail}")
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)

    def write(self, out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"drill-{self.name}.json"
        path.write_text(
            json.dumps(
                {"name": self.name, "passed": self.passed, **asdict(self)}, indent=2, default=str
            )
            + "\n"
        )
        return path
