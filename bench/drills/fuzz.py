"""Schemathesis drill: fuzz every operation of the served OpenAPI document with a valid key.

``schemathesis run`` generates requests from ``/schema/openapi.json`` (examples, boundary
coverage and random fuzzing, valid and invalid data) and sends them to ``accelerator serve``
with the bootstrap admin key, which may call every operation. Two checks: no answer is a 5xx
(``not_a_server_error``), and every error is a problem document (``problem_document``, ours).
The server's log must hold no traceback either.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bench.drills import DrillResult
from bench.drills.stack import ADMIN_KEY, Stack

CHECKS = "not_a_server_error,problem_document"
# The schemathesis script of the interpreter running us (the project's virtualenv).
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def run(
    database_url: str,
    logs: Path,
    *,
    max_examples: int = 30,
    max_time: float | None = None,
    seed: int = 1,
    phases: str = "examples,coverage,fuzzing,stateful",
) -> DrillResult:
    result = DrillResult("schemathesis")
    junit = logs / "schemathesis-junit.xml"
    extra = {"ACCELERATOR_QUOTE_DEADLINE_MAX_SECONDS": "2"}  # ?wait=true never blocks long
    with Stack(database_url, logs, deadline_seconds=1.0, extra_env=extra) as stack:
        stack.start()
        assert stack.server is not None
        log_start = stack.server.log.stat().st_size
        stack.profile_seller(stack.seller_headers())
        command = [
            str(SCHEMATHESIS), "run", f"{stack.api}/schema/openapi.json",
            "--header", f"Authorization: Bearer {ADMIN_KEY}",
            "--checks", CHECKS,
            "--max-examples", str(max_examples),
            "--seed", str(seed),
            "--phases", phases,
            "--workers", "1",
            "--no-color",
            "--suppress-health-check", "all",
            "--report", "junit", "--report-junit-path", str(junit),
        ]  # fmt: skip
        if max_time is not None:
            command += ["--max-time", str(max_time)]
        finished = subprocess.run(  # noqa: S603 - the venv's schemathesis, our own arguments
            command,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "bench.drills.st_checks"},
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        (logs / "schemathesis.txt").write_text(finished.stdout + finished.stderr)
        with stack.server.log.open("rb") as log:
            log.seek(log_start)
            server_log = log.read().decode(errors="replace")
    summary = _summary(finished.stdout)
    result.facts["schemathesis"] = summary or finished.stdout[-300:]
    result.facts["report"] = str(logs / "schemathesis.txt")
    failures = re.findall(r"^_+ (.+?) _+$", finished.stdout, flags=re.MULTILINE)
    result.check(
        "schemathesis finds no 5xx and no error that is not a problem document",
        finished.returncode == 0,
        f"exit {finished.returncode}; failing operations: {failures[:10]}; "
        f"see {logs / 'schemathesis.txt'}",
    )
    tracebacks = server_log.count("Traceback (most recent call last)")
    result.check("the server logged no traceback", tracebacks == 0, f"{tracebacks} tracebacks")
    return result


def _summary(output: str) -> str:
    lines = [line.strip() for line in output.splitlines()]
    keep = [
        line
        for line in lines
        if re.search(r"(test cases|operations|passed|failed|Seed:|generated)", line)
    ]
    return " | ".join(keep[-8:])
