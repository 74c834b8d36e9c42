"""Bind crash drill: ``kill -9`` of the API while the insurer is binding, then a restart.

1. A seller asks for quotes and buys a bindable offer of a synchronous insurer, with an
   Idempotency-Key, while that insurer is slow to answer binds (the sandbox's ``bind_latency``):
   it issues the policy at once and keeps the caller waiting.
2. Once the insurer has issued the policy (its control API counts it) and the request is
   ``binding``, the API process is killed with SIGKILL: nobody will hear the insurer's answer.
3. The insurer answers promptly again, and the API starts again. So that the drill does not wait
   for the 30 s after which a production process takes a bind for abandoned, the restarted one
   takes it after ``abandoned_after`` seconds (``ACCELERATOR_BIND_ABANDONED_AFTER_SECONDS``).

Then, what a user would notice: the request ends ``bound`` (never stuck ``binding``) with the
insurer's one policy in the seller's registry, and the client's retry with its Idempotency-Key
gets 201 with that policy.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.drills import DrillResult
from bench.drills.stack import Stack, wait_for
from bench.sellers import SELLER_ID

# The insurers that answer a bind in the call itself (Meridian confirms by callback).
SYNCHRONOUS = ("harbor", "acorn", "summit")
KEY = "drill-bind-1"


def _offer(view: dict[str, Any]) -> dict[str, Any] | None:
    """A bindable offer of a synchronous insurer, compliant ones first."""
    for offer in view["offers"]:  # already ranked: compliant ones first
        if offer["offer"]["bindable"] and offer["offer"]["provider_id"] in SYNCHRONOUS:
            found: dict[str, Any] = offer
            return found
    return None


class Buyer:
    """The seller's bind, sent from a thread: it never hears back if the API dies."""

    def __init__(self, stack: Stack, headers: dict[str, str], offer_id: str) -> None:
        self.url = f"{stack.api}/v1/offers/{offer_id}/bind"
        self.headers = {**headers, "Idempotency-Key": KEY}
        self.answer: httpx.Response | Exception | None = None
        self.thread = threading.Thread(target=self._send, daemon=True)

    def _send(self) -> None:
        try:
            self.answer = httpx.post(
                self.url, json={"acknowledge_gaps": True}, headers=self.headers, timeout=120
            )
        except httpx.HTTPError as exc:
            self.answer = exc

    def start(self) -> None:
        self.thread.start()

    def retry(self) -> httpx.Response:
        """The client sends its bind again: same key, same body."""
        return httpx.post(
            self.url, json={"acknowledge_gaps": True}, headers=self.headers, timeout=60
        )


def _status(stack: Stack, headers: dict[str, str], request_id: str) -> str | None:
    try:
        view = httpx.get(f"{stack.api}/v1/quote-requests/{request_id}", headers=headers, timeout=5)
    except httpx.HTTPError:
        return None
    status: str | None = view.json().get("status") if view.status_code == 200 else None
    return status


def _issued(stack: Stack, insurer: str) -> int:
    control = httpx.get(f"{stack.sandbox_url}/_control/{insurer}", timeout=5).json()
    issued: int = control["policies_issued"]
    return issued


def run(
    database_url: str, logs: Path, *, deadline: float = 2.0, abandoned_after: float = 2.0
) -> DrillResult:
    result = DrillResult("bind-crash")
    with Stack(database_url, logs, deadline_seconds=deadline) as stack:
        stack.start_sandbox()
        stack.start_server()
        headers = stack.seller_headers()
        stack.profile_seller(headers)
        view = httpx.post(
            f"{stack.api}/v1/quote-requests?wait=true",
            json={"seller_id": SELLER_ID},
            headers=headers,
            timeout=60,
        ).json()
        request_id = view["id"]
        offer = _offer(view)
        if not result.check("a bindable offer of a synchronous insurer", offer is not None):
            return result
        assert offer is not None
        insurer = offer["offer"]["provider_id"]
        result.facts["offer bought"] = f"{insurer} {offer['offer']['quote_reference']}"
        # Far longer than the drill: the bind is answered only if the process lives that long.
        stack.set_faults({insurer: {"bind_latency": {"fixed_ms": 120_000}}})

        buyer = Buyer(stack, headers, offer["id"])
        buyer.start()
        binding = wait_for(
            lambda: (
                _issued(stack, insurer) == 1 and _status(stack, headers, request_id) == "binding"
            ),
            60,
            0.05,
        )
        stack.server.kill()  # type: ignore[union-attr]
        result.check(
            "the API was killed while the insurer was binding (policy issued, request binding)",
            binding,
            f"policies issued {_issued(stack, insurer)}",
        )
        buyer.thread.join(timeout=30)
        result.facts["the client's first answer"] = repr(buyer.answer)

        stack.set_faults({})  # the insurer answers promptly again
        stack.extra_env["ACCELERATOR_BIND_ABANDONED_AFTER_SECONDS"] = str(abandoned_after)
        stack.extra_env["ACCELERATOR_SWEEP_INTERVAL_SECONDS"] = "0.5"
        restarted = time.monotonic()
        stack.start_server()
        settled = wait_for(lambda: _status(stack, headers, request_id) != "binding", 60)
        result.facts["bind settled after the restart"] = f"{time.monotonic() - restarted:.1f} s"
        final = httpx.get(
            f"{stack.api}/v1/quote-requests/{request_id}", headers=headers, timeout=10
        ).json()
        result.check(
            "the request is bound, not stuck binding",
            settled and final["status"] == "bound",
            f"{final['status']}, bind_failure {final.get('bind_failure')}",
        )
        policies = httpx.get(
            f"{stack.api}/v1/sellers/{SELLER_ID}/policies", headers=headers, timeout=10
        ).json()
        result.check(
            "the seller's registry holds one policy",
            len(policies) == 1,
            f"{[p['terms']['policy_number'] for p in policies]}",
        )
        result.check(
            "the insurer issued one policy",
            _issued(stack, insurer) == 1,
            f"{_issued(stack, insurer)} issued",
        )
        again = buyer.retry()
        answered = again.json() if again.status_code < 500 else {}
        result.check(
            "the client's retry with its Idempotency-Key gets 201 with that policy",
            again.status_code == 201
            and len(policies) == 1
            and answered.get("policy", {}).get("id") == policies[0]["id"],
            f"{again.status_code} {again.text[:300]}",
        )
    return result
