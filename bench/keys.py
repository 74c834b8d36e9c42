"""API keys for a run, issued the way ``accelerator keys create`` issues them."""

from __future__ import annotations

import asyncio

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import open_database


def issue_key(database_url: str, role: Role, seller_id: str | None = None) -> str:
    """A new key's secret (stored hashed in the database, like every key)."""

    async def issue() -> str:
        db = open_database(database_url)
        try:
            issued = await create_key(db, role, seller_id=seller_id, name=f"bench {role.value}")
        finally:
            await db.dispose()
        return issued.secret

    return asyncio.run(issue())
