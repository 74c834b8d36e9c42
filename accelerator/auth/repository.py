"""The API keys' storage: the only code that reads or writes ``api_keys``.

Module functions over the service's :class:`Database`. Finding the key a request presents runs
on every authenticated request, so it is a plain statement on the read-only driver connections
(``infra.lookups``); issuing, listing and revoking keys (the CLI) and the seller pages' session
checks go through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from accelerator.auth.models import ApiKey
from accelerator.auth.principal import Principal, Role
from accelerator.infra.database import Database
from accelerator.infra.statements import DialectName, Statement

#: The PostgreSQL channel a revocation notifies, with the revoked key's digest (auth.cache).
REVOCATION_CHANNEL = "api_key_revoked"

_ACTIVE_KEY = Statement(
    "active_key",
    select(ApiKey.id, ApiKey.role, ApiKey.seller_id, ApiKey.name, ApiKey.provider_id).where(
        ApiKey.digest == bindparam("digest"), ApiKey.revoked_at.is_(None)
    ),
)


def _still_active(dialect: DialectName) -> Any:
    # The digests are one parameter however many, as in coverage.repository's check read.
    if dialect == "postgresql":
        wanted = ApiKey.digest == any_(bindparam("digests", type_=ARRAY(String)))
    else:
        given = func.json_each(bindparam("digests", type_=String)).table_valued("value")
        wanted = ApiKey.digest.in_(select(given.c.value))
    return select(ApiKey.digest).where(wanted, ApiKey.revoked_at.is_(None))


_STILL_ACTIVE = Statement("still_active_keys", _still_active)


async def still_active(db: Database, digests: Collection[str]) -> set[str]:
    """Which of ``digests`` belong to stored, unrevoked keys."""
    if not digests:
        return set()
    return {row[0] for row in await db.lookups.fetch(_STILL_ACTIVE, digests=list(digests))}


async def active_key(db: Database, digest: str) -> Principal | None:
    """The principal of the unrevoked key stored with ``digest``, if any."""
    rows = await db.lookups.fetch(_ACTIVE_KEY, digest=digest)
    if not rows:
        return None
    key_id, role, seller_id, name, provider_id = rows[0]
    return Principal(key_id, Role(role), seller_id, name, provider_id)


async def active_key_by_id(db: Database, key_id: str) -> tuple[Principal, str] | None:
    """The principal of the unrevoked key ``key_id`` and its stored digest, if any."""
    async with db.read_engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    ApiKey.role, ApiKey.seller_id, ApiKey.name, ApiKey.provider_id, ApiKey.digest
                ).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            )
        ).first()
    if row is None:
        return None
    principal = Principal(key_id, Role(row.role), row.seller_id, row.name, row.provider_id)
    return principal, row.digest


async def has_active_seller_key(db: Database) -> bool:
    """Whether any seller key is unrevoked."""
    async with db.read_engine.connect() as connection:
        found = await connection.scalar(
            select(ApiKey.id)
            .where(ApiKey.role == Role.SELLER.value, ApiKey.revoked_at.is_(None))
            .limit(1)
        )
    return found is not None


async def add_key(
    db: Database,
    *,
    key_id: str,
    prefix: str,
    digest: str,
    role: Role,
    seller_id: str | None,
    name: str,
    created_at: datetime,
    provider_id: str | None = None,
) -> None:
    """Store a new, unrevoked key (committed when this returns)."""
    key = ApiKey(
        id=key_id,
        prefix=prefix,
        digest=digest,
        role=role.value,
        seller_id=seller_id,
        provider_id=provider_id,
        name=name,
        created_at=created_at,
        revoked_at=None,
    )
    async with db.writing() as session:
        session.add(key)


async def keys_oldest_first(db: Database) -> list[ApiKey]:
    """Every key, revoked or not, in the order they were created."""
    async with db.reading() as session:
        return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all())


async def revoke(db: Database, key_id_or_prefix: str, now: datetime) -> ApiKey | None:
    """Revoke, as of ``now``, the one key with this id or printed prefix (one revoked before
    stays revoked as of then); None if no key or several match."""
    async with db.writing() as session:
        rows = (
            await session.scalars(
                select(ApiKey).where(
                    (ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix)
                )
            )
        ).all()
        if len(rows) != 1:
            return None
        row = rows[0]
        if row.revoked_at is None:
            row.revoked_at = now
        if not db.is_sqlite:
            # Every process drops the key from its cache when this commits (auth.cache); on
            # SQLite they see the commit itself.
            await session.execute(select(func.pg_notify(REVOCATION_CHANNEL, row.digest)))
    return row


__all__ = [
    "REVOCATION_CHANNEL",
    "active_key",
    "active_key_by_id",
    "add_key",
    "has_active_seller_key",
    "keys_oldest_first",
    "revoke",
    "still_active",
]
