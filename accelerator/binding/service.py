"""Binding an offer: idempotent per key, exactly one policy per quote request.

Exactly-once rests on one atomic, conditional UPDATE of the quote request
(``status IN (collecting, complete) -> binding``): on PostgreSQL and on SQLite alike only one
concurrent bind can change the row, so only one reaches the insurer. The policy row is also
unique per offer and per request, as a second line of defence.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from accelerator.auth.principal import Principal
from accelerator.binding import repository as bind_keys
from accelerator.compliance.evaluate import endorsement_phrase
from accelerator.coverage.repository import create_policy
from accelerator.coverage.service import policy_document
from accelerator.errors import Conflict, NotFound, Unprocessable, UpstreamFailed
from accelerator.infra.database import Database
from accelerator.insurers.caller import PermanentFailure, RetryPolicy, TransientFailure, send
from accelerator.insurers.partners import Partner
from accelerator.quoting import repository as quotes
from accelerator.quoting.assessment import assess_offer
from accelerator.rulesets.loader import RuleBook
from providers import BindPending, BindRefused, BindRequest, Bound, MalformedResponse
from schemas import BindBody, BindResponse, OfferStatus, PolicySource, QuoteRequestStatus

BIND_TIMEOUT_SECONDS = 20.0


def _already_bound() -> Conflict:
    return Conflict(
        "request_already_bound",
        "This quote request is already bound",
        "Another offer of this request was bound (or is being bound).",
    )


def _in_progress() -> Conflict:
    return Conflict("bind_in_progress", "A bind with this key is in progress")


@dataclass(frozen=True)
class BindOutcome:
    status_code: int
    body: BindResponse


def _fingerprint(offer_id: str, body: BindBody) -> str:
    return hashlib.sha256(offer_id.encode() + b"\0" + msgspec.json.encode(body)).hexdigest()


@dataclass(frozen=True)
class BindingService:
    """Binds offers for the callers that may: a seller key only its own seller's offers (any
    other offer is not found, so its existence does not leak); admins any."""

    db: Database
    partners: Mapping[str, Partner]
    rulebook: RuleBook
    additional_insured_name: str = ""
    # Whether an offer has expired, and when a policy bound here was recorded (tests set it).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def bind(
        self, principal: Principal, offer_id: str, idempotency_key: str, body: BindBody
    ) -> BindOutcome:
        fingerprint = _fingerprint(offer_id, body)
        replay = await self._claim_key(principal, idempotency_key, fingerprint)
        if replay is not None:
            return replay
        try:
            outcome = await self._bind(principal, offer_id, body)
        except BaseException:
            # A refused or failed bind may be retried with the same key.
            await bind_keys.release_key(self.db, principal.key_id, idempotency_key)
            raise
        await bind_keys.record_answer(
            self.db, principal.key_id, idempotency_key, outcome.status_code, outcome.body
        )
        return outcome

    async def _claim_key(
        self, principal: Principal, key: str, fingerprint: str
    ) -> BindOutcome | None:
        """Record the key as in progress, or return the answer it already has."""
        now = datetime.now(UTC)
        if await bind_keys.claim_key(self.db, principal.key_id, key, fingerprint, now):
            return None
        record = await bind_keys.key_record(self.db, principal.key_id, key)
        if record is None:  # released between our insert and this read: let the caller retry
            raise _in_progress()
        if record.fingerprint != fingerprint:
            raise Unprocessable(
                "idempotency_key_reused",
                "Idempotency-Key reused with a different request",
                "This Idempotency-Key was first sent with another offer or body; use a new key.",
            )
        if record.status_code is None or record.body is None:
            raise _in_progress()
        return BindOutcome(record.status_code, record.body)

    async def _load(self, principal: Principal, offer_id: str) -> quotes.BindTarget:
        target = await quotes.offer_to_bind(self.db, offer_id)
        if target is None or not principal.may_act_for_seller(target.seller_id):
            raise NotFound("offer", f"No offer {offer_id!r}.")
        return target

    async def _bind(self, principal: Principal, offer_id: str, body: BindBody) -> BindOutcome:
        target = await self._load(principal, offer_id)
        offer = target.offer
        now = self.clock()
        open_request = target.request_status in (
            QuoteRequestStatus.COLLECTING,
            QuoteRequestStatus.COMPLETE,
        )
        if not open_request or target.offer_status != OfferStatus.OPEN:
            raise _already_bound()
        if target.valid_until <= now:
            raise Conflict(
                "offer_expired",
                "The offer has expired",
                f"It was valid until {target.valid_until.isoformat()}.",
            )
        if not offer.bindable:
            raise Conflict(
                "offer_indicative",
                "The offer is indicative only",
                "The insurer must firm it up before it can be bound.",
            )
        compliance = assess_offer(self.rulebook, target.request, offer)
        if compliance.gaps and not body.acknowledge_gaps:
            raise Unprocessable(
                "gaps_not_acknowledged",
                "The offer does not meet the marketplace's requirements",
                "Gaps: "
                + "; ".join(g.message for g in compliance.gaps)
                + " Send acknowledge_gaps: true to bind it anyway.",
            )
        partner = self.partners.get(target.provider_id)
        if partner is None:
            raise Conflict("insurer_unavailable", "The insurer is no longer configured")
        if not await quotes.claim_for_bind(self.db, target.request_id, offer_id):
            raise _already_bound()
        try:
            return await self._call_insurer(partner, target)
        except BaseException:
            await quotes.reopen_after_bind(self.db, target.request_id)
            raise

    async def _call_insurer(self, partner: Partner, target: quotes.BindTarget) -> BindOutcome:
        adapter = partner.adapter
        request, offer = target.request, target.offer
        bind = BindRequest(
            request_id=request.request_id,
            seller_id=request.seller.seller_id,
            named_insured=request.seller.legal_name,
            # The endorsement exactly as offered (name and wording): the policy must carry the
            # wording the rule set requires, not only the operator's name.
            additional_insured_name=endorsement_phrase(offer) or self.additional_insured_name,
        )
        loop_deadline = asyncio.get_running_loop().time() + BIND_TIMEOUT_SECONDS
        try:
            reply = await send(
                partner.client,
                adapter.bind_call(offer, bind, partner.settings),
                idempotency_key=f"{target.offer_id}.bind",
                deadline=loop_deadline,
                policy=RetryPolicy(max_attempts=3),
                captures=[],
                secret_headers=adapter.secret_headers,
                secret_values=partner.secret_values,
            )
            result = adapter.parse_bind(offer, reply)
        except (TimeoutError, TransientFailure, PermanentFailure, MalformedResponse) as exc:
            raise UpstreamFailed(
                "insurer_bind_failed",
                "The insurer did not confirm the bind",
                str(exc) or type(exc).__name__,
            ) from exc
        now = self.clock()
        if isinstance(result, BindRefused):
            raise Conflict(
                "bind_refused",
                "The insurer refused to bind",
                f"{result.reason_code}: {result.reason}",
            )
        if isinstance(result, BindPending):
            await quotes.mark_bind_pending(self.db, target.request_id, result.bind_reference)
            return BindOutcome(
                202,
                BindResponse(
                    status="bind_pending",
                    offer_id=target.offer_id,
                    quote_request_id=target.request_id,
                    bind_reference=result.bind_reference,
                ),
            )
        assert isinstance(result, Bound)
        async with self.db.writing() as session:
            policy = await create_policy(
                session,
                seller_id=request.seller.seller_id,
                terms=result.policy,
                source=PolicySource.BOUND,
                recorded_at=now,
                event_id=f"bind.{target.offer_id}",
                provider_id=target.provider_id,
                offer_id=target.offer_id,
                quote_request_id=target.request_id,
                verified=True,
            )
            await quotes.finish_bind(session, target.request_id, target.offer_id)
            document = await policy_document(session, policy.id, self.rulebook, now)
        return BindOutcome(
            201,
            BindResponse(
                status="bound",
                offer_id=target.offer_id,
                quote_request_id=target.request_id,
                policy=document,
            ),
        )


__all__ = ["BindOutcome", "BindingService"]
