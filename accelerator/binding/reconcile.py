"""Finishing binds whose process died while the insurer was binding.

Such a bind leaves its request ``binding``, with a claim time older than any live bind lasts
(``settle.ABANDONED_AFTER``, or the ``bind_abandoned_after_seconds`` setting), and its caller's
Idempotency-Key in progress. At start-up and every sweep, each API process takes such binds
over, one conditional UPDATE each (``quoting.repository.take_over_bind``: two processes never
hold the same bind), sends the bind again with the idempotency key of the first send, and
records the insurer's answer as a live bind would (``settle.record_result``): bound, the policy
registered and the key answered 201 with it; pending, ``bind_pending`` and 202; refused, the
request reopened with the insurer's reason and the key freed.

When the insurer still does not say (it fails, times out, or answers something unreadable), the
bind stays ``binding`` and is sent again once its new claim is old, up to
:data:`MAX_BIND_ATTEMPTS` sends in all; then the request is reopened with the last failure as
its reason, so that a seller is never stuck. A partner's idempotency records must outlive that
(docs/providers.md, "Binding").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from accelerator.binding.settle import (
    ABANDONED_AFTER,
    BindOutcome,
    BindUnconfirmed,
    record_result,
    send_bind,
    settle_failed,
    unconfirmed_failure,
)
from accelerator.infra.database import Database
from accelerator.insurers.partners import Partner
from accelerator.quoting import repository as quotes
from accelerator.rulesets.loader import RuleBook
from schemas import BindFailure

logger = logging.getLogger("accelerator.binding")

#: Sends of one bind (the first, live one included) before the request is reopened.
MAX_BIND_ATTEMPTS = 10
#: Binds taken over per sweep, one after another; the rest wait for the next sweep.
BINDS_PER_SWEEP = 20


@dataclass(frozen=True)
class BindReconciler:
    """Takes over and settles the binds dead processes left ``binding``."""

    db: Database
    partners: Mapping[str, Partner]
    rulebook: RuleBook
    additional_insured_name: str = ""
    abandoned_after: timedelta = ABANDONED_AFTER
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def any_waiting(self) -> bool:
        """Whether a bind may wait to be finished: one read, so that a start-up with nothing to
        finish does not write in the background while the first requests are served."""
        return await quotes.any_binding(self.db)

    async def run_once(self) -> int:
        """Take over the abandoned binds (up to :data:`BINDS_PER_SWEEP`) and send each again;
        returns how many this call took over."""
        await quotes.stamp_unclaimed_binds(self.db, datetime.now(UTC))
        taken = 0
        for request_id in await quotes.abandoned_binds(
            self.db, claimed_before=datetime.now(UTC) - self.abandoned_after, limit=BINDS_PER_SWEEP
        ):
            # The claim's age is judged again, at the instant of taking it over.
            now = datetime.now(UTC)
            claim = await quotes.take_over_bind(
                self.db, request_id, claimed_before=now - self.abandoned_after, now=now
            )
            if claim is None:  # settled meanwhile, or another process took it over
                continue
            taken += 1
            try:
                await self._finish(claim)
            except Exception as exc:  # its claim ages again, and the next sweep sends it again
                logger.exception("could not finish the bind of quote request %s", request_id)
                if claim.attempts >= MAX_BIND_ATTEMPTS:
                    # Not forever (a conflict recording the policy would fail every time): the
                    # seller gets the request back with the reason, as after failed sends.
                    failure = BindUnconfirmed(
                        "unexpected_error", type(exc).__name__, transient=False
                    )
                    await self._give_up(
                        claim,
                        unconfirmed_failure(
                            claim.offer_id, failure, self.clock(), attempts=claim.attempts
                        ),
                    )
        return taken

    async def _finish(self, claim: quotes.BindClaim) -> None:
        target = await quotes.offer_to_bind(self.db, claim.offer_id)
        assert target is not None, "a claimed bind names an offer of its request"
        partner = self.partners.get(target.provider_id)
        if partner is None:
            await self._give_up(
                claim,
                BindFailure(
                    offer_id=claim.offer_id,
                    code="insurer_unavailable",
                    reason="The insurer is no longer configured, so the bind could not be "
                    "confirmed; ask the insurer whether it issued a policy.",
                    failed_at=self.clock(),
                ),
            )
            return
        try:
            result = await send_bind(partner, target, self.additional_insured_name)
        except BindUnconfirmed as exc:
            await self._unconfirmed(claim, exc)
            return
        except Exception as exc:  # an adapter that broke its contract: an unconfirmed send
            logger.exception("the bind of quote request %s failed", claim.request_id)
            await self._unconfirmed(
                claim, BindUnconfirmed("unexpected_error", type(exc).__name__, transient=True)
            )
            return
        recorded = await record_result(self.db, self.rulebook, claim, target, result, self.clock())
        logger.warning(
            "finished the bind of quote request %s that a stopped process left: %s",
            claim.request_id,
            _described(recorded),
        )

    async def _unconfirmed(self, claim: quotes.BindClaim, failure: BindUnconfirmed) -> None:
        if failure.transient and claim.attempts < MAX_BIND_ATTEMPTS:
            logger.warning(
                "the bind of quote request %s is still unconfirmed after %d send(s) (%s); "
                "a later sweep sends it again",
                claim.request_id,
                claim.attempts,
                failure.code,
            )
            return
        await self._give_up(
            claim,
            unconfirmed_failure(claim.offer_id, failure, self.clock(), attempts=claim.attempts),
        )

    async def _give_up(self, claim: quotes.BindClaim, failure: BindFailure) -> None:
        if await settle_failed(self.db, claim, failure):
            logger.warning(
                "reopened quote request %s: its bind failed (%s)", claim.request_id, failure.code
            )


def _described(recorded: BindOutcome | BindFailure | None) -> str:
    if isinstance(recorded, BindOutcome):
        return recorded.body.status
    if isinstance(recorded, BindFailure):
        return f"refused ({recorded.reason_code})"
    return "taken over by another process meanwhile"


__all__ = ["BINDS_PER_SWEEP", "MAX_BIND_ATTEMPTS", "BindReconciler"]
