"""Binding an offer: idempotent per key, exactly one policy per quote request.

Exactly-once rests on one atomic, conditional UPDATE of the quote request
(``status IN (collecting, complete) -> binding``): on PostgreSQL and on SQLite alike only one
concurrent bind can change the row, so only one reaches the insurer. The policy row is also
unique per offer and per request, as a second line of defence.

The claim records when it was made and whose Idempotency-Key waits for the answer, so that a
bind whose process dies while the insurer is binding is finished by another process
(``reconcile.py``), and the key gets that answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from accelerator.auth.principal import Principal
from accelerator.binding import repository as bind_keys
from accelerator.binding.settle import (
    ABANDONED_AFTER,
    BindOutcome,
    BindUnconfirmed,
    record_result,
    send_bind,
    settle_failed,
    unconfirmed_failure,
)
from accelerator.errors import Conflict, NotFound, Unprocessable, UpstreamFailed
from accelerator.infra.database import Database
from accelerator.insurers.partners import Partner
from accelerator.quoting import repository as quotes
from accelerator.quoting.assessment import assess_offer
from accelerator.rulesets.loader import RuleBook
from schemas import BindBody, BindFailure, OfferStatus, QuoteRequestStatus


def _already_bound() -> Conflict:
    return Conflict(
        "request_already_bound",
        "This quote request is already bound",
        "Another offer of this request was bound (or is being bound).",
    )


def _in_progress() -> Conflict:
    return Conflict("bind_in_progress", "A bind with this key is in progress")


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
    # Whether an offer has expired or its cover started, and when a policy bound here was
    # recorded (tests set it).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # How old a key still in progress must be before it is taken for one whose process died.
    abandoned_after: timedelta = ABANDONED_AFTER

    async def bind(
        self, principal: Principal, offer_id: str, idempotency_key: str, body: BindBody
    ) -> BindOutcome:
        fingerprint = _fingerprint(offer_id, body)
        keyed_at = datetime.now(UTC)
        replay = await self._claim_key(principal, idempotency_key, fingerprint, keyed_at)
        if replay is not None:
            return replay
        try:
            target, partner = await self._check(principal, offer_id, body)
            claim = await quotes.claim_for_bind(
                self.db,
                target.request_id,
                offer_id,
                principal_id=principal.key_id,
                idempotency_key=idempotency_key,
                now=datetime.now(UTC),
            )
            if claim is None:
                raise _already_bound()
        except BaseException:
            # Refused before the insurer was asked: the same key may be sent again.
            async with self.db.writing() as session:
                await bind_keys.release_key(
                    session, principal.key_id, idempotency_key, created_at=keyed_at
                )
            raise
        # From here the key is answered (or freed) in the transaction that settles the bind:
        # here, or by the reconciler if this process stops before it knows the outcome.
        return await self._send(partner, target, claim)

    async def _claim_key(
        self, principal: Principal, key: str, fingerprint: str, now: datetime
    ) -> BindOutcome | None:
        """Record the key as in progress, or return the answer it already has."""
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
        if record.status_code is not None and record.body is not None:
            return BindOutcome(record.status_code, record.body)
        if await self._orphaned(principal, key, record, now):
            async with self.db.writing() as session:
                await bind_keys.release_key(
                    session, principal.key_id, key, created_at=record.created_at
                )
            if await bind_keys.claim_key(self.db, principal.key_id, key, fingerprint, now):
                return None
        raise _in_progress()

    async def _orphaned(
        self, principal: Principal, key: str, record: bind_keys.KeyRecord, now: datetime
    ) -> bool:
        """Whether a key in progress will never be answered: its process died before it claimed
        a request (a claimed bind is answered by whoever settles it), long enough ago."""
        if record.created_at > now - self.abandoned_after:
            return False
        return not await quotes.bind_waits_for_key(self.db, principal.key_id, key)

    async def _load(self, principal: Principal, offer_id: str) -> quotes.BindTarget:
        target = await quotes.offer_to_bind(self.db, offer_id)
        if target is None or not principal.may_act_for_seller(target.seller_id):
            raise NotFound("offer", f"No offer {offer_id!r}.")
        return target

    async def _check(
        self, principal: Principal, offer_id: str, body: BindBody
    ) -> tuple[quotes.BindTarget, Partner]:
        """The offer and its insurer, if the offer may be bound now; else the refusal."""
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
        starts = target.request.cover.effective_date
        marketplace = target.request.seller.marketplace
        today = self.rulebook.local_date(marketplace, now)
        if starts < today:
            zone = self.rulebook.timezone(marketplace)
            # Cover bought after it should have started could be bought after a loss.
            raise Conflict(
                "cover_start_passed",
                "The cover would already have started",
                f"The cover was asked to start on {starts.isoformat()}, before today "
                f"({today.isoformat()} in {zone}). Ask for new quotes starting today or later.",
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
        return target, partner

    async def _send(
        self, partner: Partner, target: quotes.BindTarget, claim: quotes.BindClaim
    ) -> BindOutcome:
        # Cancelled (the process is stopping) or failed unexpectedly, the request stays
        # `binding`: the insurer may have bound, and the reconciler finds out by asking again.
        try:
            result = await send_bind(partner, target, self.additional_insured_name)
        except BindUnconfirmed as exc:
            failure = unconfirmed_failure(target.offer_id, exc, self.clock())
            await settle_failed(self.db, claim, failure)
            raise UpstreamFailed(
                "insurer_bind_failed", "The insurer did not confirm the bind", exc.reason
            ) from exc
        recorded = await record_result(self.db, self.rulebook, claim, target, result, self.clock())
        if isinstance(recorded, BindOutcome):
            return recorded
        if isinstance(recorded, BindFailure):
            raise Conflict(
                "bind_refused",
                "The insurer refused to bind",
                f"{recorded.reason_code}: {recorded.reason}",
            )
        # Another process took this bind over (it looked abandoned) and records its outcome;
        # the key gets that answer.
        raise _in_progress()


__all__ = ["BindOutcome", "BindingService"]
