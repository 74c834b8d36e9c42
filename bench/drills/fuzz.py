"""Schemathesis drill: fuzz every operation of the served OpenAPI document with a valid key.

``schemathesis run`` generates requests from ``/schema/openapi.json`` (the documented examples,
boundary coverage and random fuzzing, valid and invalid data) and sends them to ``accelerator
serve`` with the bootstrap admin key, which may call every operation. Every check schemathesis
has runs (``checks.enabled``: no 5xx, no status or content type the document does not list, every
body matching its schema, invalid data refused, valid data accepted, missing auth refused, …),
with ours (``bench/drills/st_checks.py``): every error is an RFC 9457 problem document, and a
schema-valid request is refused only by a rule the schema cannot state. The server's log must
hold no traceback either.

What the document promises and a check expects differently is excluded in ``fuzz_rules.py``, by
operation and check, each with its reason, never by turning a check off everywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from bench.drills import DrillResult
from bench.drills.fuzz_rules import KNOWN_FALSE_POSITIVES, RULE_REFUSALS, Exclusion
from bench.drills.stack import ADMIN_KEY, Stack

#: The server is on 127.0.0.1: no proxy, whatever the environment names. Without it `requests`
#: also scanned the whole environment for proxy settings before each of the drill's ~12,000
#: requests (a tenth of schemathesis's request-sending time in a profile).
_NO_PROXY: Final = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}

# The schemathesis script of the interpreter running us (the project's virtualenv).
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def config(
    exclusions: tuple[Exclusion, ...] = KNOWN_FALSE_POSITIVES,
    rule_refusals: Mapping[str, frozenset[str]] = RULE_REFUSALS,
) -> str:
    """The schemathesis.toml of the run: every check on; for the operations above only, their
    exclusions, and 422 let through to ``refused_only_by_rules`` where rules refuse valid data.
    One table per operation (schemathesis applies the first that matches)."""
    settings: dict[str, list[str]] = {}
    for exclusion in exclusions:
        settings.setdefault(exclusion.operation_id, []).append(
            f"checks.{exclusion.check}.enabled = false"
        )
    for operation_id in rule_refusals:
        settings.setdefault(operation_id, []).append(
            "checks.positive_data_acceptance.expected-statuses = "
            '["2xx", "401", "403", "404", "409", "422"]'
        )
    lines = ["[checks]", "enabled = true", ""]
    for operation_id, entries in settings.items():
        lines += ["[[operations]]", f'include-operation-id = "{operation_id}"', *entries, ""]
    return "\n".join(lines)


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
    logs.mkdir(parents=True, exist_ok=True)
    junit = logs / "schemathesis-junit.xml"
    settings = logs / "schemathesis.toml"
    settings.write_text(config())
    extra = {"ACCELERATOR_QUOTE_DEADLINE_MAX_SECONDS": "2"}  # ?wait=true never blocks long
    with Stack(database_url, logs, deadline_seconds=1.0, extra_env=extra) as stack:
        stack.start()
        assert stack.server is not None
        log_start = stack.server.log.stat().st_size
        stack.profile_seller(stack.seller_headers())
        command = [
            str(SCHEMATHESIS), "--config-file", str(settings), "run",
            f"{stack.api}/schema/openapi.json",
            "--header", f"Authorization: Bearer {ADMIN_KEY}",
            "--max-examples", str(max_examples),
            "--seed", str(seed),
            "--phases", phases,
            "--workers", "1",
            "--no-color",
            "--suppress-health-check", "all",
            # No example database (by default ./.hypothesis, kept from run to run in this tree):
            # the seed alone decides the cases, as in a clean clone, and each schemathesis
            # process spent about 1 s of CPU on the database.
            "--generation-database", "none",
            "--report", "junit", "--report-junit-path", str(junit),
        ]  # fmt: skip
        if max_time is not None:
            command += ["--max-time", str(max_time)]
        finished = subprocess.run(  # noqa: S603 - the venv's schemathesis, our own arguments
            command,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "bench.drills.st_checks", **_NO_PROXY},
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
        "schemathesis finds no 5xx, no undocumented status and no answer off its schema",
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
