"""Quote requests and insurer results for the storage tests, stored as the runner stores them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.repository import store_request
from tests.quoting.fakes import make_offer, make_request


async def ask(db: Database, request_id: str, *providers: str) -> None:
    """Commit ``request_id`` (``collecting``) with an ``awaiting`` outcome for each provider."""
    now = datetime.now(UTC)
    await store_request(
        db,
        make_request(request_id),
        {provider: f"{provider} insurance" for provider in providers},
        now,
        now + timedelta(minutes=1),
    )


def offered(provider: str, *premiums: str) -> InsurerResult:
    return InsurerResult(
        provider_id=provider,
        insurer_name=f"{provider} insurance",
        status="offered",
        offers=[make_offer(provider, premium) for premium in premiums or ("1200.00",)],
        quote_reference=f"{provider}-q1",
        elapsed_ms=12.5,
    )


def declined(provider: str) -> InsurerResult:
    return InsurerResult(
        provider_id=provider,
        insurer_name=f"{provider} insurance",
        status="declined",
        reason_code="outside_appetite",
        reason="we do not write this class",
        elapsed_ms=3.0,
    )
