"""Fan one quote request out to every eligible insurer at once, under one deadline.

Every partner gets exactly one result, whatever happens: ``offered``, ``declined``,
``referred``, ``pending``, ``timed_out``, ``error`` or ``skipped``, with a reason code. One
partner's failure, slowness or bug never reaches the others: each call runs in its own task and
every exception ends as that partner's ``error``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accelerator.admin.switches import SWITCHED_OFF
from accelerator.insurers.caller import PermanentFailure, RetryPolicy, TransientFailure, send
from accelerator.insurers.capture import AttemptCapture
from accelerator.insurers.partners import Partner
from accelerator.quoting.appetite import not_asked_reason
from providers import (
    Declined,
    MalformedResponse,
    Offered,
    Pending,
    QuoteResult,
    Referred,
    eligibility,
)
from schemas import Offer, OutcomeStatus, QuoteRequest

if TYPE_CHECKING:
    from accelerator.infra.tracing import Tracing

logger = logging.getLogger("accelerator.quoting")


@dataclass(frozen=True)
class InsurerResult:
    provider_id: str
    insurer_name: str
    status: OutcomeStatus
    reason_code: str | None = None
    reason: str | None = None
    offers: Sequence[Offer] = ()
    quote_reference: str | None = None
    attempts: Sequence[AttemptCapture] = ()
    elapsed_ms: float = 0.0
    # Each offer's id, given when the result is made, so that the fan-out that stores the offers
    # also knows them (it may answer without reading them back: runner, repository).
    offer_ids: Sequence[str] = ()

    def __post_init__(self) -> None:
        if len(self.offer_ids) != len(self.offers):
            object.__setattr__(self, "offer_ids", new_offer_ids(len(self.offers)))


def new_offer_ids(count: int) -> tuple[str, ...]:
    """``count`` random UUIDs (version 4), as ``str(uuid.uuid4())`` writes them: from one read
    of the system's random source rather than one per id, and without a ``uuid.UUID`` object
    each (twenty offers per quote request: 3 to 4 us of CPU an offer less)."""
    raw = os.urandom(16 * count)
    ids = []
    for start in range(0, 16 * count, 16):
        bits = int.from_bytes(raw[start : start + 16], "big")
        # The version (4) and the RFC 4122 variant, set as uuid.UUID(version=4) sets them.
        bits = (bits & _UNVERSIONED) | _VERSION_4
        text = f"{bits:032x}"
        ids.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    return tuple(ids)


_UNVERSIONED = ~(0xC000 << 48) & ~(0xF000 << 64)
_VERSION_4 = (0x8000 << 48) | (4 << 76)


OutcomeSink = Callable[[InsurerResult], Awaitable[None]]


@dataclass(frozen=True)
class FanOutPolicy:
    deadline_seconds: float
    insurer_timeout_seconds: float
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll_interval_seconds: float = 0.25


def _from_quote_result(
    partner: Partner,
    result: QuoteResult,
    attempts: list[AttemptCapture],
    elapsed_ms: float,
    reference: str | None = None,
) -> InsurerResult:
    offers: tuple[Offer, ...] = ()
    code: str | None = None
    reason: str | None = None
    match result:
        case Offered(offers=offered) if offered:
            status, offers = OutcomeStatus.OFFERED, tuple(offered)
        case Offered():
            status, code, reason = OutcomeStatus.DECLINED, "no_offer", "no offer made"
        case Declined(reason_code=code, reason=reason):
            status = OutcomeStatus.DECLINED
        case Referred(reason=reason):
            status, code = OutcomeStatus.REFERRED, "referred_to_underwriter"
        case Pending(quote_reference=reference):
            status, code = OutcomeStatus.PENDING, "awaiting_callback"
            reason = "the insurer answers asynchronously"
        case _:  # pragma: no cover
            raise TypeError(f"unknown quote result {result!r}")
    # Made once, with its offers: each InsurerResult made gives its offers their ids.
    return InsurerResult(
        provider_id=partner.adapter.provider_id,
        insurer_name=partner.adapter.insurer_name,
        status=status,
        reason_code=code,
        reason=reason,
        offers=offers,
        quote_reference=reference,
        attempts=tuple(attempts),
        elapsed_ms=elapsed_ms,
    )


async def quote_one(
    request: QuoteRequest, partner: Partner, deadline: float, policy: FanOutPolicy
) -> InsurerResult:
    """Ask one insurer; never raises (but for cancellation of the whole fan-out)."""
    adapter = partner.adapter
    loop = asyncio.get_running_loop()
    timeout = partner.settings.timeout_seconds or policy.insurer_timeout_seconds
    insurer_deadline = min(deadline, loop.time() + timeout)
    captures: list[AttemptCapture] = []
    started = time.perf_counter()
    last: QuoteResult | None = None
    # An asynchronous partner's reference, kept when polling turns it into an answer: its signed
    # callback still arrives, names this reference, and must find the outcome (else it parks).
    reference: str | None = None

    def finish(status: OutcomeStatus, code: str, reason: str) -> InsurerResult:
        return InsurerResult(
            provider_id=adapter.provider_id,
            insurer_name=adapter.insurer_name,
            status=status,
            reason_code=code,
            reason=reason,
            attempts=tuple(captures),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    try:
        reply = await send(
            partner.client,
            adapter.quote_call(request, partner.settings),
            idempotency_key=f"{request.request_id}.{adapter.provider_id}.quote",
            deadline=insurer_deadline,
            policy=policy.retry,
            captures=captures,
            secret_headers=adapter.secret_headers,
            secret_values=partner.secret_values,
        )
        last = adapter.parse_quote(request, reply)
        partner.breaker.record_success()
        # An asynchronous partner may also be polled; use the time we have left for that.
        polls = 0
        while isinstance(last, Pending):
            reference = last.quote_reference
            poll = adapter.poll_call(last.quote_reference, partner.settings)
            if poll is None or loop.time() + policy.poll_interval_seconds >= insurer_deadline:
                break
            await asyncio.sleep(policy.poll_interval_seconds)
            polls += 1
            reply = await send(
                partner.client,
                poll,
                idempotency_key=f"{request.request_id}.{adapter.provider_id}.poll.{polls}",
                deadline=insurer_deadline,
                policy=policy.retry,
                captures=captures,
                secret_headers=adapter.secret_headers,
                secret_values=partner.secret_values,
            )
            last = adapter.parse_quote(request, reply)
    except TimeoutError:
        if isinstance(last, Pending):
            return _from_quote_result(
                partner, last, captures, round((time.perf_counter() - started) * 1000, 1)
            )
        partner.breaker.record_failure()
        return finish(OutcomeStatus.TIMED_OUT, "insurer_timeout", "no answer before the deadline")
    except TransientFailure as failure:
        partner.breaker.record_failure()
        return finish(
            OutcomeStatus.ERROR, failure.code, f"{failure} (after {len(captures)} attempt(s))"
        )
    except PermanentFailure as failure:
        partner.breaker.release()
        return finish(OutcomeStatus.ERROR, failure.code, str(failure))
    except MalformedResponse as exc:
        partner.breaker.record_failure()
        return finish(OutcomeStatus.ERROR, "malformed_response", f"unreadable answer: {exc}")
    except Exception:  # an adapter bug must not hurt the other insurers
        logger.exception("adapter %s failed", adapter.provider_id)
        partner.breaker.record_failure()
        return finish(
            OutcomeStatus.ERROR, "adapter_failed", "the adapter failed; see the service log"
        )
    assert last is not None
    return _from_quote_result(
        partner, last, captures, round((time.perf_counter() - started) * 1000, 1), reference
    )


async def _traced_quote(
    tracing: Tracing,
    request: QuoteRequest,
    partner: Partner,
    deadline: float,
    policy: FanOutPolicy,
) -> InsurerResult:
    """:func:`quote_one` as a span carrying the insurer and its outcome; the HTTP attempts are
    spans under it (infra.http)."""
    with tracing.span(
        "insurer quote",
        {
            "accelerator.insurer.id": partner.adapter.provider_id,
            "accelerator.insurer.call": "quote",
        },
    ) as span:
        result = await quote_one(request, partner, deadline, policy)
        span.set_attribute("accelerator.insurer.outcome", result.status.value)
        span.set_attribute("accelerator.insurer.attempts", len(result.attempts))
        if result.reason_code is not None:
            span.set_attribute("accelerator.insurer.reason_code", result.reason_code)
        if result.status in (OutcomeStatus.ERROR, OutcomeStatus.TIMED_OUT):
            tracing.failed(span, result.reason_code or result.status.value)
        return result


def skipped_reason(
    request: QuoteRequest, partner: Partner, switched_off: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """Why this partner is not asked, or None if it is. ``switched_off``: the insurers an
    operator switched off, with what to say of each (accelerator.admin.switches)."""
    adapter = partner.adapter
    if switched_off and adapter.provider_id in switched_off:
        return SWITCHED_OFF, switched_off[adapter.provider_id]
    code = eligibility(adapter.appetite, request)
    if code is not None:
        return code, not_asked_reason(code, adapter.appetite, request, adapter.insurer_name)
    if not partner.breaker.allow():
        return "breaker_open", "the insurer failed repeatedly; calls are paused"
    return None


async def fan_out(
    request: QuoteRequest,
    partners: Mapping[str, Partner],
    policy: FanOutPolicy,
    on_result: OutcomeSink,
    switched_off: Mapping[str, str] | None = None,
) -> list[InsurerResult]:
    """Ask every partner concurrently (but those in ``switched_off``); hand each result to
    ``on_result`` as it arrives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.deadline_seconds
    results: list[InsurerResult] = []
    asked: list[Partner] = []
    for partner in partners.values():
        try:
            reason = skipped_reason(request, partner, switched_off)
        except Exception:
            # An appetite that cannot judge this request (a partner's own check failing on it)
            # must not leave every other insurer unasked: this one alone ends in error.
            logger.exception("eligibility of %s failed", partner.adapter.provider_id)
            result = InsurerResult(
                provider_id=partner.adapter.provider_id,
                insurer_name=partner.adapter.insurer_name,
                status=OutcomeStatus.ERROR,
                reason_code="eligibility_failed",
                reason="the insurer's appetite could not be checked; see the service log",
            )
            results.append(result)
            await on_result(result)
            continue
        if reason is None:
            asked.append(partner)
            continue
        result = InsurerResult(
            provider_id=partner.adapter.provider_id,
            insurer_name=partner.adapter.insurer_name,
            status=OutcomeStatus.SKIPPED,
            reason_code=reason[0],
            reason=reason[1],
        )
        results.append(result)
        await on_result(result)
    # Started (each call's first step run) in this order: the usually slowest insurer's request
    # leaves first, and its answer, which the request waits for, comes back soonest.
    calls = [
        asyncio.create_task(
            quote_one(request, partner, deadline, policy)
            if partner.tracing is None
            else _traced_quote(partner.tracing, request, partner, deadline, policy)
        )
        for partner in call_order(asked)
    ]
    by_id = {partner.adapter.provider_id: partner for partner in asked}
    for finished in asyncio.as_completed(calls):
        result = await finished
        by_id[result.provider_id].note_elapsed(result.elapsed_ms)
        results.append(result)
        await on_result(result)
    return results


def call_order(partners: Sequence[Partner]) -> list[Partner]:
    """``partners`` in the order their calls are to go out: the slowest to answer first (by
    :attr:`Partner.typical_ms`), those not yet heard from before any. A request waits for its
    slowest insurer, and the calls leave one after another from one event loop (about 0.1 ms
    of CPU each: docs/performance.md, "A quote request's critical path"), so the slowest one
    sent last would add the others' sending to every answer."""
    return sorted(
        partners,
        key=lambda partner: -math.inf if partner.typical_ms is None else -partner.typical_ms,
    )
