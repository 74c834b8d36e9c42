"""Adapter conformance, live: call a partner's test environment the way the service would.

``accelerator partners check PROVIDER --live`` runs these after the offline scenarios
(``providers.check_scenario``). Each call goes through the core's caller, with the idempotency
keys, retries and deadlines of a real quote request or bind, and each answer is judged by what
the service needs of it. So a partner learns before going live that its API, its credentials
and its adapter agree. Binding makes a policy in the partner's test environment, so it runs
only when asked for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import httpx
import msgspec

from accelerator.compliance.evaluate import endorsement_phrase
from accelerator.infra.http import PartnerClient, build_client
from accelerator.insurers.caller import PermanentFailure, RetryPolicy, TransientFailure, send
from accelerator.quoting.cover import required_endorsement
from accelerator.rulesets.loader import RuleBook
from providers import (
    BindPending,
    BindRefused,
    BindRequest,
    BindResult,
    Bound,
    Declined,
    HttpCall,
    HttpReply,
    InsurerAdapter,
    MalformedResponse,
    Offered,
    Pending,
    ProviderSettings,
    QuoteResult,
    Referred,
)
from schemas import Offer, QuoteRequest

__all__ = ["LiveCheck", "check_live", "live_request"]

_T = TypeVar("_T")
_RETRY = RetryPolicy(max_attempts=3)
_POLL_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class LiveCheck:
    """One live check: ``problem`` is empty when it passed; ``detail`` says what was seen."""

    name: str
    problem: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        return not self.problem


class _Failed(Exception):
    """A live call did not give the service something it can use."""


def live_request(scenario_request: QuoteRequest, rulebook: RuleBook, now: datetime) -> QuoteRequest:
    """A scenario's request as the service would send it today: a new id, cover from tomorrow
    (a scenario's dates are fixed, and a partner may rightly refuse cover that started in the
    past), and the endorsement the seller's marketplace requires."""
    starts = (now + timedelta(days=1)).date()
    marketplace = scenario_request.seller.marketplace
    return msgspec.structs.replace(
        scenario_request,
        request_id=f"conformance-{uuid.uuid4()}",
        cover=msgspec.structs.replace(scenario_request.cover, effective_date=starts),
        additional_insured=required_endorsement(rulebook, marketplace, starts)
        if rulebook.has(marketplace)
        else scenario_request.additional_insured,
    )


async def check_live(
    adapter: InsurerAdapter,
    settings: ProviderSettings,
    requests: Sequence[QuoteRequest],
    *,
    bind: bool,
    timeout_seconds: float,
    on_check: Callable[[LiveCheck], None] = lambda _: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[LiveCheck]:
    """Quote each request; with ``bind``, bind the first bindable offer three times: twice
    under one ``Idempotency-Key`` (the same answer both times) and once under another
    (refused: a quote binds once). ``on_check`` hears each check as soon as it is done;
    ``transport`` replaces the network (tests)."""
    client = build_client(settings.base_url, timeout_seconds=timeout_seconds, transport=transport)
    live = _Live(adapter, settings, client, timeout_seconds)
    checks = _Checks(on_check)
    to_bind: tuple[QuoteRequest, Offer] | None = None
    try:
        for number, request in enumerate(requests, 1):
            name = f"quote {number} ({request.seller.legal_name}, {request.seller.marketplace})"
            try:
                result = await live.quote(request)
            except _Failed as exc:
                checks.append(LiveCheck(name, problem=str(exc)))
                continue
            problems = _offer_problems(adapter.provider_id, request, result)
            checks.append(LiveCheck(name, "; ".join(problems), _described_quote(request, result)))
            if to_bind is None and isinstance(result, Offered):
                to_bind = next(((request, o) for o in result.offers if o.bindable), None)
        if bind:
            await _bind_checks(live, to_bind, checks)
    finally:
        await client.aclose()
    return checks.done


@dataclass
class _Checks:
    """The checks done so far, each told to ``on_check`` as it is added."""

    on_check: Callable[[LiveCheck], None]
    done: list[LiveCheck] = field(default_factory=list)

    def append(self, check: LiveCheck) -> None:
        self.done.append(check)
        self.on_check(check)


@dataclass(frozen=True)
class _Live:
    adapter: InsurerAdapter
    settings: ProviderSettings
    client: PartnerClient
    timeout_seconds: float

    async def quote(self, request: QuoteRequest) -> QuoteResult:
        """The answer to a quote request, polled (where the adapter can) until it is not
        pending or the time is up; a partner that answers only by callback stays pending."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds
        prefix = f"{request.request_id}.{self.adapter.provider_id}"
        call = self.adapter.quote_call(request, self.settings)
        reply = await self._send(call, f"{prefix}.quote", deadline)
        result = _parsed(partial(self.adapter.parse_quote, request, reply))
        polls = 0
        while isinstance(result, Pending):
            poll = self.adapter.poll_call(result.quote_reference, self.settings)
            if poll is None:
                return result
            if loop.time() + _POLL_INTERVAL_SECONDS >= deadline:
                raise _Failed(f"still pending after {self.timeout_seconds:g} s of polling")
            await asyncio.sleep(_POLL_INTERVAL_SECONDS)
            polls += 1
            reply = await self._send(poll, f"{prefix}.poll.{polls}", deadline)
            result = _parsed(partial(self.adapter.parse_quote, request, reply))
        return result

    async def bind(self, offer: Offer, bind: BindRequest, key: str) -> BindResult:
        deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        call = self.adapter.bind_call(offer, bind, self.settings)
        try:
            reply = await self._send(call, key, deadline, refusals=True)
        except PermanentFailure as failure:
            if failure.reply is None:
                raise _Failed(f"{failure.code}: {failure}") from None
            # As the core does: a 4xx answer to a bind may be a refusal with a reason.
            reply = failure.reply
        return _parsed(partial(self.adapter.parse_bind, offer, reply))

    async def _send(
        self, call: HttpCall, key: str, deadline: float, *, refusals: bool = False
    ) -> HttpReply:
        try:
            return await send(
                self.client,
                call,
                idempotency_key=key,
                deadline=deadline,
                policy=_RETRY,
                captures=[],
                secret_headers=self.adapter.secret_headers,
                secret_values=tuple(v for v in (self.settings.api_key,) if v),
            )
        except TimeoutError:
            raise _Failed(f"no answer within {self.timeout_seconds:g} s") from None
        except TransientFailure as failure:
            raise _Failed(f"{failure.code}: {failure}") from None
        except PermanentFailure as failure:
            if refusals:
                raise
            raise _Failed(f"{failure.code}: {failure}") from None


def _parsed(parse: Callable[[], _T]) -> _T:
    try:
        return parse()
    except MalformedResponse as exc:
        raise _Failed(f"the adapter could not read the answer: {exc}") from None
    except Exception as exc:
        raise _Failed(
            f"the adapter raised {type(exc).__name__}: {exc} "
            "(only MalformedResponse may escape an adapter)"
        ) from None


def _offer_problems(provider_id: str, request: QuoteRequest, result: QuoteResult) -> list[str]:
    if not isinstance(result, Offered):
        return []
    now = datetime.now(UTC)
    problems = []
    currency = request.cover.per_occurrence.currency
    for offer in result.offers:
        which = f"offer {offer.quote_reference}"
        if offer.provider_id != provider_id:
            problems.append(f"{which} names provider {offer.provider_id!r}, not {provider_id!r}")
        if offer.total.amount != offer.premium.amount + offer.taxes.amount + offer.fees.amount:
            problems.append(f"{which}: total is not premium + taxes + fees")
        if offer.premium.currency != currency:
            problems.append(f"{which} is in {offer.premium.currency}; the request is in {currency}")
        if offer.valid_until <= now:
            problems.append(f"{which} was valid only until {offer.valid_until.isoformat()}")
    return problems


def _described_quote(request: QuoteRequest, result: QuoteResult) -> str:
    if isinstance(result, Offered):
        count = len(result.offers)
        text = f"offered {count} offer{'s' if count != 1 else ''}"
        required = request.additional_insured
        if required is not None:
            named = sum(
                1
                for o in result.offers
                if o.additional_insured is not None and o.additional_insured.name == required.name
            )
            text += f", {named} naming {required.name} as additional insured"
        return text
    if isinstance(result, Declined):
        return f"declined ({result.reason_code}): {result.reason}"
    if isinstance(result, Referred):
        return f"referred: {result.reason}"
    return f"pending ({result.quote_reference}); the answer comes by callback"


def _described_bind(result: BindResult) -> str:
    if isinstance(result, Bound):
        return f"bound: policy {result.policy.policy_number}"
    if isinstance(result, BindPending):
        return f"pending ({result.bind_reference}); the policy comes by callback"
    return f"refused ({result.reason_code}): {result.reason}"


async def _bind_checks(
    live: _Live, to_bind: tuple[QuoteRequest, Offer] | None, checks: _Checks
) -> None:
    if to_bind is None:
        checks.append(LiveCheck("bind", problem="no quote came back with a bindable offer"))
        return
    request, offer = to_bind
    required = request.additional_insured
    bind = BindRequest(
        request_id=request.request_id,
        seller_id=request.seller.seller_id,
        named_insured=request.seller.legal_name,
        # What the core sends: the endorsement as offered, else the operator asked for.
        additional_insured_name=endorsement_phrase(offer) or (required.name if required else ""),
    )
    key = f"{request.request_id}.bind"
    try:
        first = await live.bind(offer, bind, key)
    except _Failed as exc:
        checks.append(LiveCheck("bind", problem=str(exc)))
        return
    refused = isinstance(first, BindRefused)
    checks.append(
        LiveCheck(
            "bind",
            problem=f"a bindable offer was refused: {_described_bind(first)}" if refused else "",
            detail=_described_bind(first),
        )
    )
    if refused:
        return

    name = "bind again with the same Idempotency-Key"
    try:
        again = await live.bind(offer, bind, key)
        same = msgspec.to_builtins(again) == msgspec.to_builtins(first)
        problem = "" if same else f"a different answer: {_described_bind(again)}"
        checks.append(LiveCheck(name, problem, _described_bind(again)))
    except _Failed as exc:
        checks.append(LiveCheck(name, problem=str(exc)))

    name = "bind again with another Idempotency-Key"
    try:
        other = await live.bind(offer, bind, f"{key}.another")
        refused_again = isinstance(other, BindRefused)
        problem = "" if refused_again else f"bound twice: {_described_bind(other)}"
        checks.append(LiveCheck(name, problem, _described_bind(other)))
    except _Failed as exc:
        checks.append(LiveCheck(name, problem=str(exc)))
