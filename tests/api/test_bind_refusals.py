"""Binding refuses, each with its own problem: an expired offer (judged by a controlled clock, to
the microsecond), an indicative one, another seller's, a non-compliant one without consent, and
an idempotency key sent again with another request or while its bind is in progress."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from accelerator.auth.principal import Role
from accelerator.binding import repository as bind_keys
from accelerator.binding.service import _fingerprint
from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import OfferRow
from accelerator.quoting.runner import record_request, record_result
from accelerator.server import runtime_of
from schemas import BindBody
from tests.quoting.fakes import make_offer, make_request

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
VALID_UNTIL = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def an_offer(
    database: Database, *, valid_until: datetime = VALID_UNTIL, **changes: Any
) -> str:
    """A request of seller s-1 (cover from 2026-12-01) with one offer from 'harbor' (not
    configured here)."""
    insurers: Any = {"harbor": SimpleNamespace(adapter=SimpleNamespace(insurer_name="Harbor"))}
    await record_request(
        database, make_request("req-bind"), insurers, datetime.now(UTC) + timedelta(seconds=5)
    )
    offer = msgspec.structs.replace(make_offer("harbor"), valid_until=valid_until, **changes)
    await record_result(
        database,
        "req-bind",
        InsurerResult(
            provider_id="harbor", insurer_name="Harbor", status="offered", offers=[offer]
        ),
    )
    async with database.reading() as session:
        offer_id = await session.scalar(select(OfferRow.id))
    assert offer_id is not None
    return offer_id


def set_clock(app: Litestar, at: datetime) -> None:
    runtime = runtime_of(app)
    runtime.replace(binding=dataclasses.replace(runtime.services.binding, clock=lambda: at))


async def bind(client: Client, headers: Headers, offer_id: str, key: str, **body: Any) -> Any:
    return await client.post(
        f"/v1/offers/{offer_id}/bind", json=body, headers={**headers, "Idempotency-Key": key}
    )


@pytest.mark.parametrize(
    ("now", "code"),
    [
        (VALID_UNTIL + timedelta(days=1), "offer_expired"),
        (VALID_UNTIL, "offer_expired"),  # valid *until*: at that instant it is over
        # A microsecond before, expiry is not the obstacle: the next check (no such insurer
        # configured in this test) answers instead.
        (VALID_UNTIL - timedelta(microseconds=1), "insurer_unavailable"),
    ],
    ids=["a-day-late", "at-valid-until", "just-before"],
)
async def test_an_offer_binds_only_before_its_valid_until(
    client: Client,
    app: Litestar,
    database: Database,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
    now: datetime,
    code: str,
) -> None:
    offer_id = await an_offer(database)
    set_clock(app, now)
    # The fake offer has gaps; consenting to them leaves expiry as the question.
    response = await bind(client, seller_headers, offer_id, "k-expiry", acknowledge_gaps=True)

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


async def test_an_expired_offer_can_be_retried_with_the_same_key_once_refused(
    client: Client,
    app: Litestar,
    database: Database,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    offer_id = await an_offer(database)
    set_clock(app, VALID_UNTIL + timedelta(seconds=1))
    first = await bind(client, seller_headers, offer_id, "k-1")
    again = await bind(client, seller_headers, offer_id, "k-1")
    assert first.json()["code"] == again.json()["code"] == "offer_expired"


@pytest.mark.parametrize(
    ("now", "code"),
    [
        # The request asks for cover from 2026-12-01; the US marketplace judges dates in Los
        # Angeles, eight hours behind UTC in December.
        (datetime(2026, 12, 2, 7, 59, tzinfo=UTC), "insurer_unavailable"),  # Dec 1 there
        (datetime(2026, 12, 2, 8, 0, tzinfo=UTC), "cover_start_passed"),  # Dec 2 there
    ],
    ids=["on-the-start-date-there", "the-day-after-there"],
)
async def test_an_offer_whose_cover_would_already_have_started_is_refused(
    client: Client,
    app: Litestar,
    database: Database,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
    now: datetime,
    code: str,
) -> None:
    offer_id = await an_offer(database, valid_until=datetime(2026, 12, 31, tzinfo=UTC))
    set_clock(app, now)
    response = await bind(client, seller_headers, offer_id, "k-start", acknowledge_gaps=True)

    assert (response.status_code, response.json()["code"]) == (409, code)
    if code == "cover_start_passed":
        assert response.json()["title"] == "The cover would already have started"
        assert response.json()["detail"] == (
            "The cover was asked to start on 2026-12-01, before today (2026-12-02 in "
            "America/Los_Angeles). Ask for new quotes starting today or later."
        )


async def test_an_indicative_offer_is_refused(
    client: Client,
    app: Litestar,
    database: Database,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    offer_id = await an_offer(database, bindable=False)
    set_clock(app, VALID_UNTIL - timedelta(days=1))
    response = await bind(client, seller_headers, offer_id, "k-ind")
    assert (response.status_code, response.json()["code"]) == (409, "offer_indicative")


async def test_another_sellers_offer_is_not_found(
    client: Client,
    database: Database,
    key_for: Callable[..., Awaitable[Headers]],
    profiled_seller: dict[str, Any],
) -> None:
    offer_id = await an_offer(database)
    stranger = await key_for(Role.SELLER, "s-2")
    response = await bind(client, stranger, offer_id, "k-other")
    assert response.status_code == 404
    assert response.json()["code"] == "offer_not_found"


async def test_a_non_compliant_offer_needs_its_gaps_acknowledged(
    client: Client,
    app: Litestar,
    database: Database,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    offer_id = await an_offer(database)  # no additional-insured endorsement
    set_clock(app, VALID_UNTIL - timedelta(days=1))
    response = await bind(client, seller_headers, offer_id, "k-gaps")

    assert (response.status_code, response.json()["code"]) == (422, "gaps_not_acknowledged")
    assert response.json()["title"] == "The offer does not meet the marketplace's requirements"
    assert "additional insured" in response.json()["detail"]
    assert "errors" not in response.json()


async def test_a_missing_idempotency_key_is_refused_naming_the_header(
    client: Client, database: Database, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    offer_id = await an_offer(database)
    response = await client.post(f"/v1/offers/{offer_id}/bind", json={}, headers=seller_headers)
    assert response.status_code in (400, 422)
    assert "idempotency-key" in response.text.lower()


async def test_a_key_reused_for_another_request_is_refused_and_one_in_progress_conflicts(
    client: Client, database: Database, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    offer_id = await an_offer(database)
    key_id = (await client.get("/v1/me", headers=seller_headers)).json()["key_id"]
    now = datetime.now(UTC)
    await bind_keys.claim_key(database, key_id, "k-other", "another request's", now)
    await bind_keys.claim_key(database, key_id, "k-busy", _fingerprint(offer_id, BindBody()), now)

    reused = await bind(client, seller_headers, offer_id, "k-other")
    busy = await bind(client, seller_headers, offer_id, "k-busy")

    assert reused.status_code == 422
    assert {k: reused.json().get(k) for k in ("code", "title", "detail", "errors")} == {
        "code": "idempotency_key_reused",
        "title": "Idempotency-Key reused with a different request",
        "detail": "This Idempotency-Key was first sent with another offer or body; use a new key.",
        "errors": None,
    }
    assert busy.status_code == 409
    assert (busy.json()["code"], busy.json()["title"]) == (
        "bind_in_progress",
        "A bind with this key is in progress",
    )
