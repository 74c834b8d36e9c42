"""API test helpers: keys for each role and a seller with a profile."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from tests.risk.conftest import power_bank_seller

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]


def power_bank_body(**changes: Any) -> dict[str, Any]:
    """The reference seller's facts as a JSON body (see tests/risk/conftest.py)."""
    body: dict[str, Any] = msgspec.to_builtins(power_bank_seller(**changes))
    return body


@pytest.fixture
def key_for(database: Database) -> Callable[..., Awaitable[Headers]]:
    async def make(role: Role, seller_id: str | None = None) -> Headers:
        issued = await create_key(database, role, seller_id=seller_id)
        return {"Authorization": f"Bearer {issued.secret}"}

    return make


@pytest.fixture
async def seller_headers(key_for: Callable[..., Awaitable[Headers]]) -> Headers:
    return await key_for(Role.SELLER, "s-1")


@pytest.fixture
async def claims_headers(key_for: Callable[..., Awaitable[Headers]]) -> Headers:
    return await key_for(Role.CLAIMS)


@pytest.fixture
async def profiled_seller(client: Client, seller_headers: Headers) -> dict[str, Any]:
    response = await client.put(
        "/v1/sellers/s-1/profile", json=power_bank_body(), headers=seller_headers
    )
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document
