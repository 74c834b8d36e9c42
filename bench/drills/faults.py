"""Fault drill: every sandbox fault alone, then all of them mixed.

For each fault, every simulated insurer is switched to it (through the sandbox's control API)
and a few quote requests are sent at once with ``?wait=true``, in rounds. Each must complete by
its deadline plus :data:`MARGIN_SECONDS`, with a final status for every insurer (none left
``awaiting``). "Complete by" is judged on the request's own record (``completed_at`` against
``deadline_at``), not on the drill's clock: on a busy machine the drill's threads, not the
service, were seen to add the half second that made one request "take" 1.59 s against 1.5 s
(docs/performance.md, "The test suite's time"). How long each request took by the drill's clock
is still reported.

What the margin must tell apart is a request cut at its deadline from one that waited for its
insurers. The insurers' own timeout (the deadline, per read) already ends a hang; what only the
deadline ends is a trickle, which sends a byte at a time and so never lets a read time out. The
trickles therefore last :data:`TRICKLE_DEADLINES` deadlines, far beyond the margin, and the
margin is wide enough for a machine so busy that the service ends its fan-out seconds late: at
a load average of 20 on 2 cores, one request of a clean-clone CI run completed more than a
second after its deadline. For the same reason an answer of 202 (``?wait=true`` waits the
deadline plus one second, then answers "still collecting") is followed by polling the request
until it completes, and judged the same way; how many were is reported.

Each insurer's circuit breaker opens after five failures in a row and then skips it for 30 s,
which would hide the next fault behind ``skipped``. So a round sends at most
:data:`MAX_CONCURRENT` requests (all allowed through before any failure is counted), and a
healthy request between rounds, with the faults off, closes every breaker again.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.drills import DrillResult
from bench.drills.stack import Stack
from bench.sellers import SELLER_ID

MARGIN_SECONDS = 5.0
#: How many deadlines a trickling insurer takes over its answer: past deadline + margin.
TRICKLE_DEADLINES = 20
#: How long the drill polls a request answered 202 before calling it stuck.
POLL_SECONDS = 60.0
MAX_CONCURRENT = 4
INSURERS = ("harbor", "summit", "meridian", "acorn")
FINAL = {"offered", "declined", "referred", "pending", "timed_out", "error", "skipped"}


def fault_plans(deadline: float) -> dict[str, dict[str, dict[str, Any]]]:
    """Each fault alone on every insurer, then a mix (one insurer per fault, some at random)."""
    over = int(deadline * 1000 * 2)
    alone: dict[str, dict[str, Any]] = {
        "latency": {"latency": {"min_ms": 0, "max_ms": over}},
        "errors": {"error_rate": 1.0},
        "rate_limited (429, Retry-After)": {"rate_limit_rate": 1.0, "retry_after_seconds": 1},
        "malformed body": {"malformed_rate": 1.0},
        "slow trickle": {"trickle_rate": 1.0, "trickle_seconds": deadline * TRICKLE_DEADLINES},
        "hang": {"hang_rate": 1.0},
        "connection reset": {"reset_rate": 1.0},
    }
    plans = {name: dict.fromkeys(INSURERS, fault) for name, fault in alone.items()}
    plans["mixed"] = {
        "harbor": {"error_rate": 0.3, "latency": {"min_ms": 0, "max_ms": over // 2}},
        "summit": {"rate_limit_rate": 0.4, "reset_rate": 0.2, "retry_after_seconds": 0},
        "meridian": {"hang_rate": 0.3, "malformed_rate": 0.3},
        "acorn": {
            "trickle_rate": 0.4,
            "trickle_seconds": deadline * TRICKLE_DEADLINES,
            "reset_rate": 0.2,
        },
    }
    return plans


def _ask(stack: Stack, headers: dict[str, str]) -> tuple[float, int, dict[str, Any]]:
    """One quote request with ``?wait=true``: how long it took by the drill's clock, the status
    it was answered with, and the request once complete (polled for after a 202)."""
    started = time.monotonic()
    answer = httpx.post(
        f"{stack.api}/v1/quote-requests",
        params={"wait": "true"},
        json={"seller_id": SELLER_ID, "deadline_seconds": stack.deadline_seconds},
        headers=headers,
        timeout=stack.deadline_seconds + 30,
    )
    body: dict[str, Any] = answer.json()
    if answer.status_code == 202:
        body = _completed(stack, answer.headers["Location"], headers, body)
    return time.monotonic() - started, answer.status_code, body


def _completed(
    stack: Stack, location: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """The request at ``location`` once it is no longer collecting (or as last read, after
    POLL_SECONDS)."""
    give_up = time.monotonic() + POLL_SECONDS
    while body.get("status") == "collecting" and time.monotonic() < give_up:
        time.sleep(0.2)
        polled = httpx.get(f"{stack.api}{location}", headers=headers, timeout=30)
        body = polled.json()
    return body


def _judge(
    answers: list[tuple[float, int, dict[str, Any]]], deadline: float, statuses: Counter[str]
) -> list[str]:
    problems = []
    for _, status, body in answers:
        outcomes = {o["provider_id"]: o["status"] for o in body.get("outcomes", [])}
        statuses.update(f"{p} {s}" for p, s in outcomes.items())
        if status not in (200, 202) or body.get("status") != "complete":
            problems.append(f"answered {status}, then {body.get('status', body)}")
        if set(outcomes) != set(INSURERS) or not set(outcomes.values()) <= FINAL:
            problems.append(f"outcomes {outcomes}")
        finished = _late_by(body)
        if finished is not None and finished > MARGIN_SECONDS:
            problems.append(f"completed {finished:.2f} s after its deadline")
    return problems


def _late_by(body: dict[str, Any]) -> float | None:
    """How long after its deadline the request completed, by its own record (None if not)."""
    if not body.get("completed_at") or not body.get("deadline_at"):
        return None
    completed = datetime.fromisoformat(body["completed_at"])
    return (completed - datetime.fromisoformat(body["deadline_at"])).total_seconds()


def run(
    database_url: str,
    logs: Path,
    *,
    deadline: float = 2.0,
    concurrent: int = MAX_CONCURRENT,
    rounds: int = 2,
    only: list[str] | None = None,
) -> DrillResult:
    result = DrillResult("faults")
    concurrent = min(concurrent, MAX_CONCURRENT)
    result.facts["deadline"] = f"{deadline} s, margin {MARGIN_SECONDS} s"
    began = time.monotonic()
    with Stack(database_url, logs, deadline_seconds=deadline) as stack:
        stack.start()
        headers = stack.seller_headers()
        stack.profile_seller(headers)
        result.facts["start-up took"] = f"{time.monotonic() - began:.1f} s"
        with ThreadPoolExecutor(concurrent) as pool:
            for name, plan in fault_plans(deadline).items():
                if only and name not in only:
                    continue
                began = time.monotonic()
                answers: list[tuple[float, int, dict[str, Any]]] = []
                healthy: list[tuple[float, int, dict[str, Any]]] = []
                for _ in range(rounds):
                    stack.set_faults(plan)
                    answers += pool.map(lambda _: _ask(stack, headers), range(concurrent))
                    stack.set_faults({})
                    healthy.append(_ask(stack, headers))
                result.facts[f"{name} took"] = f"{time.monotonic() - began:.1f} s"
                statuses: Counter[str] = Counter()
                problems = _judge(answers, deadline, statuses)
                slowest = max(elapsed for elapsed, _, _ in answers)
                result.check(
                    f"{name}: {len(answers)} requests complete by deadline + margin "
                    f"(slowest {slowest:.2f} s by the drill's clock), every insurer with a final "
                    "status",
                    not problems,
                    "; ".join(problems[:5]),
                )
                if waited := sum(status == 202 for _, status, _ in answers):
                    result.facts[f"{name}: answered 202, then polled until complete"] = str(waited)
                result.facts[f"outcomes under {name}"] = ", ".join(
                    f"{k}×{v}" for k, v in sorted(statuses.items())
                )
                recovered: Counter[str] = Counter()
                problems = _judge(healthy, deadline, recovered)
                skipped = [k for k in recovered if k.endswith(("skipped", "error", "timed_out"))]
                result.check(
                    f"{name}: with the fault off again, every insurer answers",
                    not problems and not skipped,
                    "; ".join(problems[:3]) + f" {skipped}" if skipped else "; ".join(problems),
                )
    return result
