"""One insurer call: a deadline around the whole exchange, retries for transient failures only.

An adapter builds the request and parses the reply; this module sends it. Transient failures
(connect errors, 5xx, 429) are retried with tenacity while the budget allows another attempt,
honouring ``Retry-After``; every attempt keeps the same idempotency key so a partner that did
receive an earlier attempt does not quote or bind twice.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

from accelerator.infra.http import PartnerClient
from accelerator.insurers.capture import AttemptCapture, capture_message
from providers import HttpCall, HttpReply


class TransientFailure(Exception):
    """Worth another attempt: the partner may answer properly next time."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """Not worth retrying: a 4xx other than 429, or a redirect we do not follow. ``reply`` is
    what the partner answered, for a caller whose adapter reads refusals from it (a bind refused
    with 409 says why in its body)."""

    def __init__(self, code: str, message: str, reply: HttpReply | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reply = reply


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_base_seconds: float = 0.05
    backoff_max_seconds: float = 1.0
    # Do not start an attempt with less than this left: it could not finish anyway.
    min_attempt_seconds: float = 0.05


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _wait(policy: RetryPolicy) -> _WaitStrategy:
    return _WaitStrategy(policy)


class _WaitStrategy:
    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, TransientFailure) and failure.retry_after is not None:
            return failure.retry_after
        # Full jitter: spread retries of many concurrent requests over the window.
        ceiling = min(
            self.policy.backoff_max_seconds,
            self.policy.backoff_base_seconds * 2 ** (state.attempt_number - 1),
        )
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


def _budget_spent(deadline: float, policy: RetryPolicy) -> _BudgetStop:
    return _BudgetStop(deadline, policy)


class _BudgetStop(stop_base):
    """Stop when the wait plus one more minimal attempt would overrun the deadline."""

    def __init__(self, deadline: float, policy: RetryPolicy) -> None:
        self.deadline = deadline
        self.policy = policy

    def __call__(self, state: RetryCallState) -> bool:
        now = asyncio.get_running_loop().time()
        return now + state.upcoming_sleep + self.policy.min_attempt_seconds >= self.deadline


def _joined(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The headers as ``dict(httpx.Headers)`` gives them (names lower-cased, a repeated one's
    values joined with commas), from their list: the mapping looks each name up again in the
    whole list, on every insurer answer."""
    joined: dict[str, str] = {}
    for name, value in headers:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


async def _attempt(
    client: PartnerClient,
    call: HttpCall,
    *,
    number: int,
    idempotency_key: str,
    secret_headers: frozenset[str],
    secret_values: Sequence[str],
    captures: list[AttemptCapture],
) -> HttpReply:
    headers = {**call.headers, "Idempotency-Key": idempotency_key}
    request = client.prepare(call.method, call.path, headers, call.body)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    capture = AttemptCapture(
        number=number,
        method=call.method,
        url=request.url,
        idempotency_key=idempotency_key,
        started_at=started.isoformat(),
        duration_ms=0.0,
        request=capture_message(request.headers, call.body, secret_headers, secret_values),
    )
    captures.append(capture)
    try:
        response = await client.send(request)
    except asyncio.CancelledError:
        capture.duration_ms = round((time.perf_counter() - clock) * 1000, 1)
        capture.error = "cancelled at the deadline"
        raise
    except httpx.TimeoutException as exc:
        capture.error = f"timeout: {exc!r}"
        raise TransientFailure("insurer_timeout", "the insurer did not answer in time") from exc
    except httpx.TransportError as exc:
        capture.error = f"transport: {exc!r}"
        raise TransientFailure(
            "connect_error", f"could not reach the insurer: {type(exc).__name__}"
        ) from exc
    finally:
        capture.duration_ms = round((time.perf_counter() - clock) * 1000, 1)
    answered = response.headers
    reply = HttpReply(response.status_code, _joined(answered), response.content)
    capture.response_status = response.status_code
    capture.response = capture_message(answered, response.content, secret_headers, secret_values)
    if response.status_code == 429:
        retry_after = parse_retry_after(reply.headers.get("retry-after"))
        raise TransientFailure(
            "rate_limited", "the insurer asked us to slow down (429)", retry_after
        )
    if response.status_code >= 500:
        raise TransientFailure(
            f"http_{response.status_code}", f"the insurer failed ({response.status_code})"
        )
    if 300 <= response.status_code < 400:
        raise PermanentFailure(
            f"http_{response.status_code}", "unexpected redirect from the insurer", reply
        )
    if response.status_code in (400, 401, 403, 404, 405, 409, 413, 415):
        raise PermanentFailure(
            f"http_{response.status_code}",
            f"the insurer refused the call ({response.status_code})",
            reply,
        )
    return reply


async def send(
    client: PartnerClient,
    call: HttpCall,
    *,
    idempotency_key: str,
    deadline: float,
    policy: RetryPolicy,
    captures: list[AttemptCapture],
    secret_headers: frozenset[str] = frozenset(),
    secret_values: Sequence[str] = (),
) -> HttpReply:
    """Send ``call``, retrying transient failures while the budget lasts.

    ``deadline`` is an event-loop time. Raises TimeoutError when the deadline passes,
    TransientFailure when retries are exhausted, PermanentFailure for refusals. Every attempt
    is appended to ``captures`` as it starts, so a timed-out call still shows what happened.
    """
    async with asyncio.timeout_at(deadline):
        try:
            # Most calls succeed at once: the first attempt goes out directly, and tenacity's
            # machinery (a retry state, strategies, an async iterator, a visible share of the
            # fan-out's CPU: docs/performance.md) only starts once there is something to retry.
            return await _attempt(
                client,
                call,
                number=1,
                idempotency_key=idempotency_key,
                secret_headers=secret_headers,
                secret_values=secret_values,
                captures=captures,
            )
        except TransientFailure as failure:
            first_failure = failure
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientFailure),
            stop=stop_after_attempt(policy.max_attempts) | _budget_spent(deadline, policy),
            wait=_wait(policy),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    # Tenacity's first outcome is the failure already seen, so its stop and
                    # wait (Retry-After, backoff by attempt number) decide as for any attempt.
                    raise first_failure
                return await _attempt(
                    client,
                    call,
                    number=number,
                    idempotency_key=idempotency_key,
                    secret_headers=secret_headers,
                    secret_values=secret_values,
                    captures=captures,
                )
    raise AssertionError("tenacity ended without an outcome")  # pragma: no cover
