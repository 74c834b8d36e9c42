"""A bind whose process is killed while the insurer is binding is finished by another process.

The dead process is simulated by doing what a killed bind leaves behind: its caller's
Idempotency-Key recorded in progress and the request claimed (``binding``) some time ago, the
insurer never heard back from. The insurer is a fake Harbor (and Meridian) that keeps one answer
per Idempotency-Key and replays it, as partners must (docs/providers.md, "Binding").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from accelerator.auth.keys import create_key, resolve_key
from accelerator.auth.principal import Role
from accelerator.binding import repository as bind_keys
from accelerator.binding.reconcile import MAX_BIND_ATTEMPTS, BindReconciler
from accelerator.binding.service import BindingService, _fingerprint
from accelerator.coverage.models import PolicyRow
from accelerator.errors import Conflict
from accelerator.infra.database import Database, open_database
from accelerator.insurers.partners import (
    Partner,
    close_partners,
    open_partners,
    provider_settings,
)
from accelerator.quoting import repository as quotes
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import OfferRow, QuoteRequestRow
from accelerator.quoting.runner import record_request
from accelerator.rulesets.loader import load_rulesets
from accelerator.sellers.models import Seller
from accelerator.server import create_app
from accelerator.settings import Settings
from schemas import BindBody, Offer, QuoteRequest
from tests.quoting.fakes import make_offer, make_request

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
PROVIDERS: dict[str, dict[str, Any]] = {
    "harbor": {"base_url": "http://harbor.test", "api_key": "harbor-key"},
    "meridian": {"base_url": "http://meridian.test", "api_key": "meridian-key"},
}
KEY = "seller-bind-1"
WAIT_SECONDS = 30.0


@dataclass
class FakeInsurers:
    """Harbor's and Meridian's bind endpoints: ``answer`` decides a new key's answer ("issue",
    "refuse", "pending" or "fail", a 500); a key seen before gets its first answer again."""

    answer: str = "issue"
    # The Idempotency-Key of every bind call received, in order.
    keys: list[str] = field(default_factory=list)
    # While set, a bind call waits for ``release`` before answering.
    hold: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _answers: dict[str, httpx.Response] = field(default_factory=dict)
    _issued: int = 0

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        self.keys.append(key)
        self.arrived.set()
        if self.hold:
            await self.release.wait()
        if key in self._answers:
            return self._answers[key]
        body = json.loads(request.content)
        meridian = request.url.host == "meridian.test"
        response = self._meridian(body) if meridian else self._harbor(body)
        if response.status_code < 500:
            self._answers[key] = response
        return response

    def _harbor(self, body: dict[str, Any]) -> httpx.Response:
        if self.answer == "fail":
            return httpx.Response(500, json={"error": "internal_error"})
        if self.answer == "refuse":
            refusal = {"code": "quote_expired", "message": f"quote {body['quote_id']} expired"}
            return httpx.Response(409, json={"status": "refused", "refusal": refusal})
        self._issued += 1
        return httpx.Response(201, json={"status": "issued", "policy": self._policy(body)})

    def _meridian(self, body: dict[str, Any]) -> httpx.Response:
        assert self.answer == "pending"
        return httpx.Response(
            202, json={"bindId": f"MSI-BND-{body['quoteId']}", "state": "pending"}
        )

    def _policy(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "policy_number": f"HMI-GL-2026-{self._issued:06d}",
            "carrier": {"name": "Harbor Mutual Insurance Company", "am_best": "A"},
            "insured_name": body["insured_name"],
            "line": "general_liability",
            "currency": "USD",
            "form": "occurrence",
            "limits": {
                "each_occurrence": "1000000",
                "general_aggregate": "1000000",
                "products_completed_ops": "1000000",
            },
            "deductible": "1000",
            "additional_insureds": [body["additional_insured"]],
            "territories": ["US"],
            "classes": ["home"],
            "effective_at": "2026-12-08T08:01:00Z",
            "expires_at": "2027-12-08T08:01:00Z",
            "notice_days": 30,
            "premium_total": "1200.00",
        }


@pytest.fixture
def insurers() -> FakeInsurers:
    return FakeInsurers()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, providers=PROVIDERS)


@pytest.fixture
def app(settings: Settings, database: Database, insurers: FakeInsurers) -> Litestar:
    return create_app(settings, insurer_transport=insurers.transport)


@pytest.fixture
async def partners(insurers: FakeInsurers) -> AsyncIterator[dict[str, Partner]]:
    opened = open_partners(
        provider_settings(PROVIDERS), default_timeout_seconds=8, transport=insurers.transport
    )
    yield opened
    await close_partners(opened)


def reconciler(db: Database, partners: dict[str, Partner]) -> BindReconciler:
    return BindReconciler(db, partners, load_rulesets(), "Amazon.com Services LLC")


@dataclass(frozen=True)
class Stranded:
    request_id: str
    offer_id: str
    key_id: str
    secret: str

    @property
    def headers(self) -> Headers:
        return {"Authorization": f"Bearer {self.secret}"}


def starting_tomorrow(request: QuoteRequest) -> QuoteRequest:
    cover = msgspec.structs.replace(request.cover, effective_date=date.today() + timedelta(days=1))
    return msgspec.structs.replace(request, cover=cover)


async def an_open_offer(database: Database, provider: str = "harbor") -> tuple[str, str]:
    """Seller s-1's request, complete with one open offer from ``provider``: (request, offer)."""
    now = datetime.now(UTC)
    async with database.writing() as session:
        if await session.get(Seller, "s-1") is None:
            session.add(
                Seller(
                    id="s-1",
                    legal_name="Volt Goods LLC",
                    marketplace="US",
                    created_at=now,
                    updated_at=now,
                )
            )
    request = starting_tomorrow(make_request(f"req-{provider}"))
    insurers: Any = {provider: SimpleNamespace(adapter=SimpleNamespace(insurer_name=provider))}
    await record_request(database, request, insurers, now + timedelta(seconds=5))
    offer: Offer = make_offer(provider)
    result = InsurerResult(
        provider_id=provider, insurer_name=provider, status="offered", offers=[offer]
    )
    await quotes.store_results(database, [(request.request_id, result)], [request.request_id])
    async with database.reading() as session:
        offer_id = await session.scalar(
            select(OfferRow.id).where(OfferRow.request_id == request.request_id)
        )
    assert offer_id is not None
    return request.request_id, offer_id


async def stranded_bind(
    database: Database, *, claimed_ago: timedelta, provider: str = "harbor"
) -> Stranded:
    """What a bind killed while its insurer was binding leaves: the key in progress, the
    request claimed ``claimed_ago`` and still ``binding``."""
    request_id, offer_id = await an_open_offer(database, provider)
    key = await create_key(database, Role.SELLER, seller_id="s-1")
    then = datetime.now(UTC) - claimed_ago
    # The fake offer falls short of the rules: its buyer said so to get this far.
    fingerprint = _fingerprint(offer_id, BindBody(acknowledge_gaps=True))
    assert await bind_keys.claim_key(database, key.id, KEY, fingerprint, then)
    claim = await quotes.claim_for_bind(
        database, request_id, offer_id, principal_id=key.id, idempotency_key=KEY, now=then
    )
    assert claim is not None
    return Stranded(request_id, offer_id, key.id, key.secret)


async def request_row(database: Database, request_id: str) -> QuoteRequestRow:
    async with database.reading() as session:
        row = await session.get(QuoteRequestRow, request_id)
    assert row is not None
    return row


async def policy_count(database: Database) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(PolicyRow)) or 0)


async def eventually(check: Callable[[], Awaitable[bool]]) -> bool:
    """Poll ``check`` until it is true or WAIT_SECONDS pass (generous: never a timing
    assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return await check()


async def retry(client: Client, stranded: Stranded) -> httpx.Response:
    """The client sends its bind again, with the same Idempotency-Key and body."""
    return await client.post(
        f"/v1/offers/{stranded.offer_id}/bind",
        json={"acknowledge_gaps": True},
        headers={**stranded.headers, "Idempotency-Key": KEY},
    )


# --- At start-up, through the whole service -------------------------------------------------


async def test_a_bind_left_by_a_killed_process_is_bound_at_start_up_and_the_retry_gets_the_policy(
    app: Litestar, database: Database, insurers: FakeInsurers
) -> None:
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))

    async with AsyncTestClient(app) as client:

        async def bound() -> bool:
            return (await request_row(database, stranded.request_id)).status == "bound"

        assert await eventually(bound), await request_row(database, stranded.request_id)
        answer = await retry(client, stranded)
        policies = await client.get("/v1/sellers/s-1/policies", headers=stranded.headers)
        view = await client.get(
            f"/v1/quote-requests/{stranded.request_id}", headers=stranded.headers
        )

    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "bound"
    [policy] = policies.json()
    assert answer.json()["policy"]["id"] == policy["id"]
    assert policy["terms"]["policy_number"] == "HMI-GL-2026-000001"
    assert view.json()["status"] == "bound"
    assert view.json()["bind_failure"] is None
    # Sent again with the key of the first send: the insurer bound once.
    assert insurers.keys == [f"{stranded.offer_id}.bind"]


async def test_a_refused_bind_left_by_a_killed_process_reopens_the_request_with_the_reason(
    app: Litestar, database: Database, insurers: FakeInsurers
) -> None:
    insurers.answer = "refuse"
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))

    async with AsyncTestClient(app) as client:

        async def reopened() -> bool:
            return (await request_row(database, stranded.request_id)).status == "complete"

        assert await eventually(reopened), await request_row(database, stranded.request_id)
        view = await client.get(
            f"/v1/quote-requests/{stranded.request_id}", headers=stranded.headers
        )
        # The key was freed: the retry binds again, and the insurer answers as before.
        answer = await retry(client, stranded)

    assert view.json()["status"] == "complete"
    failure = view.json()["bind_failure"]
    assert {k: failure[k] for k in ("offer_id", "code", "reason_code", "reason")} == {
        "offer_id": stranded.offer_id,
        "code": "bind_refused",
        "reason_code": "quote_expired",
        "reason": "quote harbor-q1 expired",
    }
    assert [o["status"] for o in view.json()["offers"]] == ["open"]
    assert (answer.status_code, answer.json()["code"]) == (409, "bind_refused")
    assert "quote_expired" in answer.json()["detail"]
    assert await policy_count(database) == 0


# --- One sweep, driven by the test ----------------------------------------------------------


async def test_a_bind_claimed_moments_ago_is_left_to_its_live_process(
    database: Database, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    stranded = await stranded_bind(database, claimed_ago=timedelta(seconds=1))
    before = await request_row(database, stranded.request_id)

    assert await reconciler(database, partners).run_once() == 0

    after = await request_row(database, stranded.request_id)
    assert (after.status, after.bind_claimed_at, after.bind_attempts) == (
        "binding",
        before.bind_claimed_at,
        1,
    )
    assert insurers.keys == []


async def test_two_reconcilers_at_once_send_the_bind_once_and_make_one_policy(
    database: Database, database_url: str, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))
    others = [open_database(database_url) for _ in range(2)]
    try:
        taken = await asyncio.gather(
            reconciler(database, partners).run_once(),
            *(reconciler(db, partners).run_once() for db in others),
        )
    finally:
        for db in others:
            await db.dispose()

    assert sorted(taken) == [0, 0, 1]
    assert insurers.keys == [f"{stranded.offer_id}.bind"]
    assert (await request_row(database, stranded.request_id)).status == "bound"
    assert await policy_count(database) == 1


async def test_a_bind_being_reconciled_is_not_taken_over_by_another_sweep(
    database: Database, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))
    insurers.hold = True
    first = asyncio.create_task(reconciler(database, partners).run_once())
    await insurers.arrived.wait()  # the first reconciler holds the bind and is sending it

    second = await reconciler(database, partners).run_once()
    insurers.release.set()

    assert (await first, second) == (1, 0)
    assert insurers.keys == [f"{stranded.offer_id}.bind"]
    assert (await request_row(database, stranded.request_id)).status == "bound"


async def test_an_insurer_that_keeps_failing_is_asked_again_until_the_request_is_reopened(
    database: Database, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    insurers.answer = "fail"
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))
    sweeps = reconciler(database, partners)

    await sweeps.run_once()
    row = await request_row(database, stranded.request_id)
    assert (row.status, row.bind_attempts) == ("binding", 2)  # left for a later sweep
    for _ in range(MAX_BIND_ATTEMPTS - 2):
        await age_claim(database, stranded.request_id)
        await sweeps.run_once()

    row = await request_row(database, stranded.request_id)
    assert (row.status, row.bind_attempts) == ("complete", MAX_BIND_ATTEMPTS)
    assert row.bind_failure is not None
    assert (row.bind_failure["code"], row.bind_failure["reason_code"]) == (
        "insurer_bind_failed",
        "http_500",
    )
    assert f"sent {MAX_BIND_ATTEMPTS} times" in row.bind_failure["reason"]
    assert await bind_keys.key_record(database, stranded.key_id, KEY) is None
    assert set(insurers.keys) == {f"{stranded.offer_id}.bind"}


async def test_a_bind_whose_answer_cannot_be_recorded_is_not_sent_forever(
    database: Database,
    partners: dict[str, Partner],
    insurers: FakeInsurers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The insurer binds, but recording its policy fails every time (say, a number the insurer
    # reused): the sweeps give up after as many sends as for an insurer that keeps failing.
    async def cannot_record(*_: object, **__: object) -> None:
        raise RuntimeError("the policy cannot be recorded")

    monkeypatch.setattr("accelerator.binding.reconcile.record_result", cannot_record)
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))
    sweeps = reconciler(database, partners)
    for _ in range(MAX_BIND_ATTEMPTS - 1):
        await sweeps.run_once()
        await age_claim(database, stranded.request_id)

    row = await request_row(database, stranded.request_id)
    assert (row.status, row.bind_attempts) == ("complete", MAX_BIND_ATTEMPTS)
    assert row.bind_failure is not None
    assert row.bind_failure["reason_code"] == "unexpected_error"
    await sweeps.run_once()
    assert len(insurers.keys) == MAX_BIND_ATTEMPTS - 1  # no more sends once reopened


async def age_claim(database: Database, request_id: str) -> None:
    """As if the sweep that last sent the bind ran minutes ago."""
    async with database.writing() as session:
        await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == request_id)
            .values(bind_claimed_at=datetime.now(UTC) - timedelta(minutes=5))
        )


async def test_an_insurer_that_confirms_later_leaves_the_request_bind_pending_and_answers_202(
    database: Database, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    insurers.answer = "pending"
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5), provider="meridian")

    assert await reconciler(database, partners).run_once() == 1

    row = await request_row(database, stranded.request_id)
    assert (row.status, row.bind_reference) == ("bind_pending", "MSI-BND-meridian-q1")
    record = await bind_keys.key_record(database, stranded.key_id, KEY)
    assert record is not None
    assert record.body is not None
    assert (record.status_code, record.body.status) == (202, "bind_pending")


async def test_binds_claimed_by_an_earlier_version_are_stamped_first_and_taken_over_later(
    database: Database, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))
    async with database.writing() as session:  # no claim time: how an earlier version claimed
        await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == stranded.request_id)
            .values(bind_claimed_at=None)
        )
    sweeps = reconciler(database, partners)

    assert await sweeps.run_once() == 0  # its process may still be alive
    assert (await request_row(database, stranded.request_id)).bind_claimed_at is not None
    await age_claim(database, stranded.request_id)
    assert await sweeps.run_once() == 1
    assert (await request_row(database, stranded.request_id)).status == "bound"


async def test_a_bind_whose_insurer_is_no_longer_configured_is_reopened_saying_so(
    database: Database, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    stranded = await stranded_bind(database, claimed_ago=timedelta(minutes=5))
    without_harbor = {k: v for k, v in partners.items() if k != "harbor"}

    assert await reconciler(database, without_harbor).run_once() == 1

    row = await request_row(database, stranded.request_id)
    assert row.status == "complete"
    assert row.bind_failure is not None
    assert row.bind_failure["code"] == "insurer_unavailable"
    assert await bind_keys.key_record(database, stranded.key_id, KEY) is None
    assert insurers.keys == []


# --- The live bind --------------------------------------------------------------------------


@pytest.fixture
async def seller_key(database: Database) -> Headers:
    key = await create_key(database, Role.SELLER, seller_id="s-1")
    return {"Authorization": f"Bearer {key.secret}"}


async def test_a_refusal_answered_with_409_reaches_the_seller_with_the_insurers_reason(
    client: Client, database: Database, insurers: FakeInsurers, seller_key: Headers
) -> None:
    insurers.answer = "refuse"
    request_id, offer_id = await an_open_offer(database)
    answer = await client.post(
        f"/v1/offers/{offer_id}/bind",
        json={"acknowledge_gaps": True},
        headers={**seller_key, "Idempotency-Key": "live-1"},
    )
    view = (await client.get(f"/v1/quote-requests/{request_id}", headers=seller_key)).json()

    assert (answer.status_code, answer.json()["code"]) == (409, "bind_refused")
    assert answer.json()["detail"] == "quote_expired: quote harbor-q1 expired"
    assert view["status"] == "complete"
    assert (view["bind_failure"]["code"], view["bind_failure"]["reason_code"]) == (
        "bind_refused",
        "quote_expired",
    )


async def test_a_live_bind_records_its_claim_and_clears_an_earlier_failure(
    client: Client, database: Database, insurers: FakeInsurers, seller_key: Headers
) -> None:
    request_id, offer_id = await an_open_offer(database)
    async with database.writing() as session:
        await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == request_id)
            .values(bind_failure={"offer_id": offer_id, "code": "bind_refused", "reason": "x"})
        )
    answer = await client.post(
        f"/v1/offers/{offer_id}/bind",
        json={"acknowledge_gaps": True},
        headers={**seller_key, "Idempotency-Key": "live-2"},
    )
    row = await request_row(database, request_id)

    assert answer.status_code == 201, answer.text
    assert (row.status, row.bind_attempts, row.bind_idempotency_key) == ("bound", 1, "live-2")
    assert row.bind_claimed_at is not None
    assert row.bind_failure is None


async def test_a_live_bind_stopped_mid_call_stays_binding_and_is_finished_by_the_reconciler(
    database: Database, partners: dict[str, Partner], insurers: FakeInsurers
) -> None:
    request_id, offer_id = await an_open_offer(database)
    key = await create_key(database, Role.SELLER, seller_id="s-1")
    principal = await resolve_key(database, key.secret, None)
    assert principal is not None
    binding = BindingService(database, partners, load_rulesets(), "Amazon.com Services LLC")
    insurers.hold = True
    live = asyncio.create_task(
        binding.bind(principal, offer_id, KEY, BindBody(acknowledge_gaps=True))
    )
    await insurers.arrived.wait()
    live.cancel()  # as at shutdown: the insurer may bind, and this process will not hear it
    with pytest.raises(asyncio.CancelledError):
        await live

    assert (await request_row(database, request_id)).status == "binding"
    with pytest.raises(Conflict, match="in progress"):
        await binding.bind(principal, offer_id, KEY, BindBody(acknowledge_gaps=True))
    insurers.release.set()
    await age_claim(database, request_id)
    assert await reconciler(database, partners).run_once() == 1
    answer = await binding.bind(principal, offer_id, KEY, BindBody(acknowledge_gaps=True))

    assert (await request_row(database, request_id)).status == "bound"
    assert (answer.status_code, answer.body.status) == (201, "bound")
    assert insurers.keys == [f"{offer_id}.bind"] * 2  # the first send and the reconciler's
    assert await policy_count(database) == 1


async def test_a_key_whose_process_died_before_claiming_a_request_may_be_sent_again(
    client: Client, database: Database, insurers: FakeInsurers
) -> None:
    request_id, offer_id = await an_open_offer(database)
    key = await create_key(database, Role.SELLER, seller_id="s-1")
    headers = {"Authorization": f"Bearer {key.secret}", "Idempotency-Key": KEY}
    fingerprint = _fingerprint(offer_id, BindBody(acknowledge_gaps=True))
    # Killed between recording the key and claiming the request, long ago and a moment ago.
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    assert await bind_keys.claim_key(database, key.id, KEY, fingerprint, long_ago)
    assert await bind_keys.claim_key(database, key.id, "fresh", fingerprint, datetime.now(UTC))

    fresh = await client.post(
        f"/v1/offers/{offer_id}/bind",
        json={"acknowledge_gaps": True},
        headers={**headers, "Idempotency-Key": "fresh"},
    )
    again = await client.post(
        f"/v1/offers/{offer_id}/bind", json={"acknowledge_gaps": True}, headers=headers
    )

    assert (fresh.status_code, fresh.json()["code"]) == (409, "bind_in_progress")
    assert again.status_code == 201, again.text
    assert (await request_row(database, request_id)).status == "bound"
