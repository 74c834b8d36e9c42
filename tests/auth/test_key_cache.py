"""Authentication without a round trip: a key is looked up once per process, and a revocation
in another process is refused here promptly (docs/architecture.md, "API keys")."""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from accelerator.auth.cache import KeyCache
from accelerator.auth.keys import create_key, digest, revoke_key
from accelerator.auth.principal import Role
from accelerator.auth.repository import still_active
from accelerator.infra.database import Database
from accelerator.server.app import runtime_of

pytestmark = pytest.mark.anyio

# The promise is milliseconds (PostgreSQL) and 50 ms (SQLite); a loaded test machine gets more.
PATIENCE_SECONDS = 10.0


def counting_lookups(app: Litestar) -> list[str]:
    """The names of the statements the app's lookups run from now on, as they run."""
    lookups = runtime_of(app).services.db.lookups
    asked: list[str] = []
    fetch = lookups.fetch

    async def counted(statement: Any, **params: Any) -> Any:
        asked.append(statement.name)
        return await fetch(statement, **params)

    lookups.fetch = counted  # type: ignore[method-assign]
    return asked


async def key_lookups_to_answer(
    client: AsyncTestClient[Litestar], asked: list[str], secret: str
) -> int:
    """How many times the key was looked up to answer one authenticated request."""
    before = len(asked)
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    return asked[before:].count("active_key")


async def until_watching(app: Litestar) -> None:
    keys = runtime_of(app).services.keys
    with anyio.fail_after(PATIENCE_SECONDS):
        while not keys.live:  # noqa: ASYNC110 - the cache offers no event to wait on
            await anyio.sleep(0.01)


async def test_a_key_seen_once_needs_no_lookup_until_it_is_revoked_in_another_process(
    app: Litestar, client: AsyncTestClient[Litestar], database: Database
) -> None:
    issued = await create_key(database, Role.SELLER, seller_id="s-1")
    headers = {"Authorization": f"Bearer {issued.secret}"}
    await until_watching(app)
    asked = counting_lookups(app)

    assert await key_lookups_to_answer(client, asked, issued.secret) == 1
    # Answered from the cache. On SQLite any commit by another connection (this test's own key,
    # the app's heartbeat at start) drops the whole cache at the next poll, which may fall
    # between two requests on a busy machine: so until a request needs no lookup.
    with anyio.fail_after(PATIENCE_SECONDS):
        while await key_lookups_to_answer(client, asked, issued.secret) != 0:  # noqa: ASYNC110
            await anyio.sleep(0.01)

    # Another process revokes it, as an operator would.
    revoked = await anyio.run_process(
        [sys.executable, "-m", "accelerator", "keys", "revoke", issued.id],
        env={**os.environ, "ACCELERATOR_DATABASE_URL": database.url},
    )
    assert revoked.stdout.decode().startswith(f"revoked {issued.id}")
    with anyio.fail_after(PATIENCE_SECONDS):
        while (await client.get("/v1/me", headers=headers)).status_code != 401:  # noqa: ASYNC110
            await anyio.sleep(0.01)


async def test_a_new_key_works_at_once_and_an_unknown_one_is_never_remembered(
    app: Litestar, client: AsyncTestClient[Litestar], database: Database
) -> None:
    await until_watching(app)
    unknown = {"Authorization": "Bearer acc_not-a-key"}
    assert (await client.get("/v1/me", headers=unknown)).status_code == 401
    issued = await create_key(database, Role.CLAIMS)
    fresh = {"Authorization": f"Bearer {issued.secret}"}
    assert (await client.get("/v1/me", headers=fresh)).status_code == 200


async def test_without_its_revocation_feed_the_cache_asks_the_database_each_time(
    database: Database,
) -> None:
    # A cache whose feed is not up (before it connects, after it lost its connection).
    keys = KeyCache(database)
    issued = await create_key(database, Role.SELLER, seller_id="s-1")
    assert await keys.active_key(digest(issued.secret)) is not None
    async with database.writing() as session:
        await session.execute(text("UPDATE api_keys SET revoked_at = created_at"))
    assert await keys.active_key(digest(issued.secret)) is None


async def test_other_writes_leave_remembered_keys_remembered_and_a_revocation_is_still_seen(
    app: Litestar, client: AsyncTestClient[Litestar], database: Database
) -> None:
    # Every coverage check commits its receipt: on SQLite each commit used to drop every
    # remembered key, and about half of the checks under load looked their key up again.
    kept = await create_key(database, Role.CLAIMS)
    revoked = await create_key(database, Role.CLAIMS)
    await until_watching(app)
    asked = counting_lookups(app)

    for secret in (kept.secret, revoked.secret):
        with anyio.fail_after(PATIENCE_SECONDS):
            while await key_lookups_to_answer(client, asked, secret) != 0:  # noqa: ASYNC110
                await anyio.sleep(0.01)

    await create_key(database, Role.SELLER, seller_id="s-1")  # a write that revokes nothing
    assert await revoke_key(database, revoked.id) is not None
    # Once the revocation is seen, so is the write before it.
    with anyio.fail_after(PATIENCE_SECONDS):
        while (  # noqa: ASYNC110
            await client.get("/v1/me", headers={"Authorization": f"Bearer {revoked.secret}"})
        ).status_code != 401:
            await anyio.sleep(0.01)
    assert await key_lookups_to_answer(client, asked, kept.secret) == 0


async def test_still_active_names_only_the_unrevoked_keys_among_those_asked(
    database: Database,
) -> None:
    active = await create_key(database, Role.CLAIMS)
    revoked = await create_key(database, Role.CLAIMS)
    await revoke_key(database, revoked.id)
    asked = [digest(active.secret), digest(revoked.secret), digest("acc_never-issued")]
    assert await still_active(database, asked) == {digest(active.secret)}
    assert await still_active(database, []) == set()
