"""Sending a bind to its insurer and recording the answer, shared by the API's bind
(``service.py``) and by the reconciler that finishes binds a dead process left
(``reconcile.py``), so that an outcome is recorded the same way whoever learns it.

Every send of an offer's bind carries the same idempotency key, :func:`bind_key`: a partner that
has already bound answers a repeat as it answered the first time, and binds nothing more
(docs/providers.md, "Binding"). A settlement is one transaction in which the request, the policy
(when bound) and the client's idempotency record change together, and only while the claim that
sent the bind still holds the request (``quoting.repository.hold_bind``): a bind another process
has taken over is settled by that process alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from accelerator.binding import repository as bind_keys
from accelerator.compliance.evaluate import endorsement_phrase
from accelerator.coverage.repository import create_policy
from accelerator.coverage.service import policy_document
from accelerator.infra.database import Database, WriteSession
from accelerator.insurers.caller import PermanentFailure, RetryPolicy, TransientFailure, send
from accelerator.insurers.partners import Partner
from accelerator.quoting import repository as quotes
from accelerator.rulesets.loader import RuleBook
from providers import (
    BindPending,
    BindRefused,
    BindRequest,
    BindResult,
    Bound,
    InsurerAdapter,
    MalformedResponse,
)
from schemas import BindFailure, BindResponse, Offer, PolicySource, PolicyTerms

BIND_TIMEOUT_SECONDS = 20.0
#: How old a claim must be before another process takes its bind over: longer than any live
#: bind lasts (its timeout), with a margin for the settlement's transaction.
ABANDONED_AFTER = timedelta(seconds=BIND_TIMEOUT_SECONDS + 10)


@dataclass(frozen=True)
class BindOutcome:
    """What the caller of a bind is answered (201 bound, 202 bind_pending)."""

    status_code: int
    body: BindResponse


class BindUnconfirmed(Exception):
    """The insurer neither bound nor refused: it failed, did not answer in time, or answered
    something we cannot read. ``transient``: sending the bind again may get its answer."""

    def __init__(self, code: str, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.transient = transient


def bind_key(offer_id: str) -> str:
    """The idempotency key of every send of this offer's bind."""
    return f"{offer_id}.bind"


async def send_bind(
    partner: Partner, target: quotes.BindTarget, additional_insured_name: str
) -> BindResult:
    """Ask the insurer to bind ``target``'s offer; raises BindUnconfirmed when it does not say."""
    if partner.tracing is None:
        return await _send_bind(partner, target, additional_insured_name)
    # A span per bind call, as per quote call (quoting.fanout), its HTTP attempts under it.
    with partner.tracing.span(
        "insurer bind",
        {"accelerator.insurer.id": partner.adapter.provider_id, "accelerator.insurer.call": "bind"},
    ) as span:
        try:
            result = await _send_bind(partner, target, additional_insured_name)
        except BindUnconfirmed as exc:
            span.set_attribute("accelerator.insurer.outcome", "unconfirmed")
            span.set_attribute("accelerator.insurer.reason_code", exc.code)
            raise
        outcome = (
            "bound"
            if isinstance(result, Bound)
            else "refused"
            if isinstance(result, BindRefused)
            else "pending"
        )
        span.set_attribute("accelerator.insurer.outcome", outcome)
        return result


async def _send_bind(
    partner: Partner, target: quotes.BindTarget, additional_insured_name: str
) -> BindResult:
    adapter = partner.adapter
    request, offer = target.request, target.offer
    bind = BindRequest(
        request_id=request.request_id,
        seller_id=request.seller.seller_id,
        named_insured=request.seller.legal_name,
        # The endorsement exactly as offered (name and wording): the policy must carry the
        # wording the rule set requires, not only the operator's name. An offer without one
        # names the operator the request asked for (the setting, for requests stored before
        # requests carried it).
        additional_insured_name=endorsement_phrase(offer)
        or (request.additional_insured.name if request.additional_insured else "")
        or additional_insured_name,
    )
    loop_deadline = asyncio.get_running_loop().time() + BIND_TIMEOUT_SECONDS
    try:
        reply = await send(
            partner.client,
            adapter.bind_call(offer, bind, partner.settings),
            idempotency_key=bind_key(target.offer_id),
            deadline=loop_deadline,
            policy=RetryPolicy(max_attempts=3),
            captures=[],
            secret_headers=adapter.secret_headers,
            secret_values=partner.secret_values,
        )
    except PermanentFailure as exc:
        refusal = _refusal(adapter, offer, exc)
        if refusal is not None:
            return refusal
        raise BindUnconfirmed(exc.code, str(exc), transient=False) from exc
    except TimeoutError as exc:
        raise BindUnconfirmed(
            "insurer_timeout", "the insurer did not answer in time", transient=True
        ) from exc
    except TransientFailure as exc:
        raise BindUnconfirmed(exc.code, str(exc), transient=True) from exc
    try:
        return adapter.parse_bind(offer, reply)
    except MalformedResponse as exc:
        # It may have bound: asked again, it repeats its answer, perhaps readable this time.
        raise BindUnconfirmed(
            "insurer_malformed_answer", str(exc) or "unreadable answer", transient=True
        ) from exc


def _refusal(
    adapter: InsurerAdapter, offer: Offer, failure: PermanentFailure
) -> BindRefused | None:
    """The insurer's refusal with its reason, when the 4xx it answered says why (Harbor and
    Meridian refuse with 409 and a body the adapter reads)."""
    if failure.reply is None:
        return None
    try:
        result = adapter.parse_bind(offer, failure.reply)
    except MalformedResponse:
        return None
    return result if isinstance(result, BindRefused) else None


def refusal_failure(offer_id: str, refusal: BindRefused, now: datetime) -> BindFailure:
    return BindFailure(
        offer_id=offer_id,
        code="bind_refused",
        reason_code=refusal.reason_code,
        reason=refusal.reason or "The insurer refused to bind this offer.",
        failed_at=now,
    )


def unconfirmed_failure(
    offer_id: str, failure: BindUnconfirmed, now: datetime, *, attempts: int = 1
) -> BindFailure:
    sent = f" (sent {attempts} times)" if attempts > 1 else ""
    return BindFailure(
        offer_id=offer_id,
        code="insurer_bind_failed",
        reason_code=failure.code,
        reason=f"The insurer did not confirm the bind{sent}: {failure.reason}.",
        failed_at=now,
    )


async def record_result(
    db: Database,
    rulebook: RuleBook,
    claim: quotes.BindClaim,
    target: quotes.BindTarget,
    result: BindResult,
    now: datetime,
) -> BindOutcome | BindFailure | None:
    """Record the insurer's answer: bound (the policy registered, the request ``bound``), pending
    (``bind_pending`` until its callback) or refused (the request reopened, the refusal kept on
    it). Returns what the bind's caller is answered, the refusal, or None if ``claim`` no longer
    holds the request (another process took the bind over and settles it)."""
    if isinstance(result, BindRefused):
        failure = refusal_failure(target.offer_id, result, now)
        return failure if await settle_failed(db, claim, failure) else None
    async with db.writing() as session:
        if not await quotes.hold_bind(session, claim):
            return None
        if isinstance(result, BindPending):
            await quotes.mark_bind_pending(session, claim.request_id, result.bind_reference)
            outcome = BindOutcome(
                202,
                BindResponse(
                    status="bind_pending",
                    offer_id=target.offer_id,
                    quote_request_id=target.request_id,
                    bind_reference=result.bind_reference,
                ),
            )
        else:
            assert isinstance(result, Bound)
            outcome = await _register(session, rulebook, target, result.policy, now)
        await _answer(session, claim, outcome)
    return outcome


async def _register(
    session: WriteSession,
    rulebook: RuleBook,
    target: quotes.BindTarget,
    terms: PolicyTerms,
    now: datetime,
) -> BindOutcome:
    policy = await create_policy(
        session,
        seller_id=target.request.seller.seller_id,
        terms=terms,
        source=PolicySource.BOUND,
        recorded_at=now,
        event_id=f"bind.{target.offer_id}",
        provider_id=target.provider_id,
        offer_id=target.offer_id,
        quote_request_id=target.request_id,
        verified=True,
    )
    await quotes.finish_bind(session, target.request_id, target.offer_id)
    document = await policy_document(session, policy.id, rulebook, now)
    return BindOutcome(
        201,
        BindResponse(
            status="bound",
            offer_id=target.offer_id,
            quote_request_id=target.request_id,
            policy=document,
        ),
    )


async def _answer(session: WriteSession, claim: quotes.BindClaim, outcome: BindOutcome) -> None:
    if claim.principal_id is not None and claim.idempotency_key is not None:
        await bind_keys.record_answer(
            session, claim.principal_id, claim.idempotency_key, outcome.status_code, outcome.body
        )


async def settle_failed(db: Database, claim: quotes.BindClaim, failure: BindFailure) -> bool:
    """The bind failed: reopen the request with ``failure`` on it, and free the caller's key so
    that it may be sent again; False (and nothing changed) if ``claim`` no longer holds it."""
    async with db.writing() as session:
        if not await quotes.hold_bind(session, claim):
            return False
        await quotes.reopen_after_bind(session, claim.request_id, failure)
        if claim.principal_id is not None and claim.idempotency_key is not None:
            await bind_keys.release_key(session, claim.principal_id, claim.idempotency_key)
    return True


__all__ = [
    "ABANDONED_AFTER",
    "BIND_TIMEOUT_SECONDS",
    "BindOutcome",
    "BindUnconfirmed",
    "bind_key",
    "record_result",
    "refusal_failure",
    "send_bind",
    "settle_failed",
    "unconfirmed_failure",
]
