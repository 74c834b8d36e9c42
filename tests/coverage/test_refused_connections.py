"""A check that meets PostgreSQL refusing a new connection ("sorry, too many clients already",
when other clients of a shared server hold every slot) is answered 503 with ``Retry-After``,
never 500, and the next check, once a connection can be opened, is answered as usual."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs published
import pytest

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from tests.api.conftest import Client
from tests.api.policies import claim

pytestmark = [
    pytest.mark.anyio,
    # A refused connection is PostgreSQL's: SQLite opens a file.
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


@pytest.fixture
def refusing_connections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Once a count is put in the list this returns, new asyncpg connections are refused as
    PostgreSQL refuses them with every slot taken, each refusal counted there, until the list
    is emptied again."""
    connect = asyncpg.connect
    refused: list[int] = []

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        if refused:
            refused[0] += 1
            raise asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
        return await connect(*args, **kwargs)

    monkeypatch.setattr(asyncpg, "connect", refuse)
    return refused


async def test_a_check_the_database_has_no_connection_for_is_refused_with_503_not_500(
    client: Client, database: Database, refusing_connections: list[int]
) -> None:
    issued = await create_key(database, Role.CLAIMS)
    claims_headers = {"Authorization": f"Bearer {issued.secret}"}
    refusing_connections.append(0)
    response = await client.post("/v1/coverage/checks", json=claim(), headers=claims_headers)
    assert refusing_connections[0] >= 1  # the check did need a new connection
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "database_unavailable"

    refusing_connections.clear()
    again = await client.post("/v1/coverage/checks", json=claim(), headers=claims_headers)
    assert again.status_code == 200, again.text
    assert again.json()["receipt_id"]
