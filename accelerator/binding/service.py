"""Binding an offer: idempotent per key, exactly one policy per quote request.

Exactly-once rests on one atomic, conditional UPDATE of the quote request
(``status IN (collecting, complete) -> binding``): on PostgreSQL and on SQLite alike only one
concurrent bind can change the row, so only one reaches the insurer. The policy row is also
unique per offer and per request, as a second line of defence.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from accelerator.auth.principal import Principal
from accelerator.binding.models import BindRecord
from accelerator.compliance.evaluate import endorsement_phrase
from accelerator.coverage.repository import create_policy
from accelerator.coverage.service import policy_document
from accelerator.infra.database import Database
from accelerator.infra.errors import ApiProblem, not_found
from accelerator.quoting.assessment import assess_offer
from accelerator.quoting.caller import PermanentFailure, RetryPolicy, TransientFailure, send
from accelerator.quoting.fanout import Partner
from accelerator.quoting.models import OfferRow, QuoteRequestRow
from accelerator.rulesets.loader import RuleBook
from providers import BindPending, BindRefused, BindRequest, Bound, MalformedResponse
from schemas import BindBody, BindResponse, Offer, PolicySource, QuoteRequest

BIND_TIMEOUT_SECONDS = 20.0
OPEN_REQUEST_STATES = ("collecting", "complete")


@dataclass(frozen=True)
class BindOutcome:
    status_code: int
    body: BindResponse


def _fingerprint(offer_id: str, body: BindBody) -> str:
    return hashlib.sha256(offer_id.encode() + b"\0" + msgspec.json.encode(body)).hexdigest()


@dataclass(frozen=True)
class BindingService:
    db: Database
    partners: dict[str, Partner]
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
            await self._release_key(principal, idempotency_key)
            raise
        async with self.db.writing() as session:
            await session.execute(
                update(BindRecord)
                .where(
                    BindRecord.principal_id == principal.key_id,
                    BindRecord.idempotency_key == idempotency_key,
                )
                .values(status_code=outcome.status_code, response=msgspec.to_builtins(outcome.body))
            )
        return outcome

    async def _claim_key(
        self, principal: Principal, key: str, fingerprint: str
    ) -> BindOutcome | None:
        """Record the key as in progress, or return the answer it already has."""
        try:
            async with self.db.writing() as session:
                session.add(
                    BindRecord(
                        principal_id=principal.key_id,
                        idempotency_key=key,
                        fingerprint=fingerprint,
                        status_code=None,
                        response=None,
                        created_at=datetime.now(UTC),
                    )
                )
            return None
        except IntegrityError:
            pass
        async with self.db.reading() as session:
            record = await session.get(BindRecord, (principal.key_id, key))
        if record is None:  # released between our insert and this read: let the caller retry
            raise ApiProblem(409, "bind_in_progress", "A bind with this key is in progress")
        if record.fingerprint != fingerprint:
            raise ApiProblem(
                422,
                "idempotency_key_reused",
                "Idempotency-Key reused with a different request",
                "This Idempotency-Key was first sent with another offer or body; use a new key.",
            )
        if record.status_code is None or record.response is None:
            raise ApiProblem(409, "bind_in_progress", "A bind with this key is in progress")
        return BindOutcome(record.status_code, msgspec.convert(record.response, BindResponse))

    async def _release_key(self, principal: Principal, key: str) -> None:
        async with self.db.writing() as session:
            await session.execute(
                delete(BindRecord).where(
                    BindRecord.principal_id == principal.key_id,
                    BindRecord.idempotency_key == key,
                    BindRecord.status_code.is_(None),
                )
            )

    async def _load(self, principal: Principal, offer_id: str) -> tuple[OfferRow, QuoteRequestRow]:
        async with self.db.reading() as session:
            offer_row = await session.get(OfferRow, offer_id)
            request_row = (
                await session.get(QuoteRequestRow, offer_row.request_id) if offer_row else None
            )
        if (
            offer_row is None
            or request_row is None
            or not principal.may_act_for_seller(request_row.seller_id)
        ):
            raise not_found("offer", f"No offer {offer_id!r}.")
        return offer_row, request_row

    async def _bind(self, principal: Principal, offer_id: str, body: BindBody) -> BindOutcome:
        offer_row, request_row = await self._load(principal, offer_id)
        offer = msgspec.convert(offer_row.offer, Offer)
        request = msgspec.convert(request_row.request, QuoteRequest)
        now = self.clock()
        if request_row.status not in OPEN_REQUEST_STATES or offer_row.status != "open":
            raise ApiProblem(
                409,
                "request_already_bound",
                "This quote request is already bound",
                "Another offer of this request was bound (or is being bound).",
            )
        if offer_row.valid_until <= now:
            raise ApiProblem(
                409,
                "offer_expired",
                "The offer has expired",
                f"It was valid until {offer_row.valid_until.isoformat()}.",
            )
        if not offer.bindable:
            raise ApiProblem(
                409,
                "offer_indicative",
                "The offer is indicative only",
                "The insurer must firm it up before it can be bound.",
            )
        compliance = assess_offer(self.rulebook, request, offer)
        if compliance.gaps and not body.acknowledge_gaps:
            raise ApiProblem(
                422,
                "gaps_not_acknowledged",
                "The offer does not meet the marketplace's requirements",
                "Gaps: "
                + "; ".join(g.message for g in compliance.gaps)
                + " Send acknowledge_gaps: true to bind it anyway.",
            )
        partner = self.partners.get(offer_row.provider_id)
        if partner is None:
            raise ApiProblem(409, "insurer_unavailable", "The insurer is no longer configured")
        if not await self._claim_request(request_row.id, offer_id):
            raise ApiProblem(
                409,
                "request_already_bound",
                "This quote request is already bound",
                "Another offer of this request was bound (or is being bound).",
            )
        try:
            return await self._call_insurer(partner, request, request_row, offer_row, offer)
        except BaseException:
            await self._reopen_request(request_row.id)
            raise

    async def _claim_request(self, request_id: str, offer_id: str) -> bool:
        async with self.db.writing() as session:
            result = await session.execute(
                update(QuoteRequestRow)
                .where(
                    QuoteRequestRow.id == request_id,
                    QuoteRequestRow.status.in_(OPEN_REQUEST_STATES),
                )
                .values(status="binding", bound_offer_id=offer_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _reopen_request(self, request_id: str) -> None:
        async with self.db.writing() as session:
            await session.execute(
                update(QuoteRequestRow)
                .where(QuoteRequestRow.id == request_id, QuoteRequestRow.status == "binding")
                .values(status="complete", bound_offer_id=None)
            )

    async def _call_insurer(
        self,
        partner: Partner,
        request: QuoteRequest,
        request_row: QuoteRequestRow,
        offer_row: OfferRow,
        offer: Offer,
    ) -> BindOutcome:
        adapter = partner.adapter
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
                idempotency_key=f"{offer_row.id}.bind",
                deadline=loop_deadline,
                policy=RetryPolicy(max_attempts=3),
                captures=[],
                secret_headers=adapter.secret_headers,
                secret_values=partner.secret_values,
            )
            result = adapter.parse_bind(offer, reply)
        except (TimeoutError, TransientFailure, PermanentFailure, MalformedResponse) as exc:
            raise ApiProblem(
                502,
                "insurer_bind_failed",
                "The insurer did not confirm the bind",
                str(exc) or type(exc).__name__,
            ) from exc
        now = self.clock()
        if isinstance(result, BindRefused):
            raise ApiProblem(
                409,
                "bind_refused",
                "The insurer refused to bind",
                f"{result.reason_code}: {result.reason}",
            )
        if isinstance(result, BindPending):
            async with self.db.writing() as session:
                await session.execute(
                    update(QuoteRequestRow)
                    .where(QuoteRequestRow.id == request_row.id)
                    .values(status="bind_pending", bind_reference=result.bind_reference)
                )
            return BindOutcome(
                202,
                BindResponse(
                    status="bind_pending",
                    offer_id=offer_row.id,
                    quote_request_id=request_row.id,
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
                event_id=f"bind.{offer_row.id}",
                provider_id=offer_row.provider_id,
                offer_id=offer_row.id,
                quote_request_id=request_row.id,
                verified=True,
            )
            await finish_bind(session, request_row.id, offer_row.id)
            document = await policy_document(session, policy.id, self.rulebook, now)
        return BindOutcome(
            201,
            BindResponse(
                status="bound",
                offer_id=offer_row.id,
                quote_request_id=request_row.id,
                policy=document,
            ),
        )


async def finish_bind(session: Any, request_id: str, offer_id: str) -> None:
    """Mark the request bound, its offer bound and every other offer superseded."""
    await session.execute(
        update(QuoteRequestRow).where(QuoteRequestRow.id == request_id).values(status="bound")
    )
    await session.execute(
        update(OfferRow).where(OfferRow.request_id == request_id).values(status="superseded")
    )
    await session.execute(update(OfferRow).where(OfferRow.id == offer_id).values(status="bound"))


__all__ = ["BindOutcome", "BindingService", "finish_bind"]
