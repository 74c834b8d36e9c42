"""Issuing, listing, revoking and resolving API keys.

Keys are 32 random bytes, so a single SHA-256 digest is enough to store them safely (a slow
password hash protects guessable secrets; these are not guessable) and lets each request find
its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy import bindparam, select

from accelerator.auth.models import ApiKey
from accelerator.auth.principal import Principal, Role
from accelerator.infra.database import Database
from accelerator.infra.statements import Statement

KEY_PREFIX = "acc_"
PREFIX_LENGTH = 12
BOOTSTRAP_KEY_ID = "bootstrap-admin"


class KeyRequestError(ValueError):
    """An API key request that cannot be honoured (e.g. a seller key without a seller id)."""


class IssuedKey(msgspec.Struct, frozen=True):
    """A freshly created key: ``secret`` is shown once and never stored."""

    id: str
    secret: str
    prefix: str
    role: Role
    seller_id: str | None
    name: str


class KeyInfo(msgspec.Struct, frozen=True):
    id: str
    prefix: str
    role: Role
    seller_id: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    db: Database, role: Role, *, seller_id: str | None = None, name: str = ""
) -> IssuedKey:
    """Store a new key and return its secret (the only time it is available)."""
    if role is Role.SELLER and not seller_id:
        raise KeyRequestError("a seller key needs --seller-id")
    if role is not Role.SELLER and seller_id:
        raise KeyRequestError("only seller keys are bound to a seller id")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=str(uuid.uuid4()),
        prefix=secret[:PREFIX_LENGTH],
        digest=digest(secret),
        role=role.value,
        seller_id=seller_id,
        name=name,
        created_at=datetime.now(UTC),
        revoked_at=None,
    )
    async with db.writing() as session:
        session.add(row)
    return IssuedKey(row.id, secret, row.prefix, role, seller_id, name)


async def list_keys(db: Database) -> list[KeyInfo]:
    async with db.reading() as session:
        rows = (await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all()
    return [
        KeyInfo(r.id, r.prefix, Role(r.role), r.seller_id, r.name, r.created_at, r.revoked_at)
        for r in rows
    ]


async def revoke_key(db: Database, key_id_or_prefix: str) -> KeyInfo | None:
    """Revoke by id or by the printed prefix; None if no such key."""
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
            row.revoked_at = datetime.now(UTC)
    return KeyInfo(
        row.id, row.prefix, Role(row.role), row.seller_id, row.name, row.created_at, row.revoked_at
    )


async def resolve_key(db: Database, secret: str, bootstrap_key: str | None) -> Principal | None:
    """The principal for a presented key, or None if it is unknown or revoked."""
    if bootstrap_key and hmac.compare_digest(secret.encode(), bootstrap_key.encode()):
        return Principal(BOOTSTRAP_KEY_ID, Role.ADMIN, None, "bootstrap admin")
    rows = await db.lookups.fetch(_ACTIVE_KEY, digest=digest(secret))
    if not rows:
        return None
    key_id, role, seller_id, name = rows[0]
    return Principal(key_id, Role(role), seller_id, name)


# Every authenticated request runs this: on the driver directly (accelerator.infra.lookups).
_ACTIVE_KEY = Statement(
    "active_key",
    select(ApiKey.id, ApiKey.role, ApiKey.seller_id, ApiKey.name).where(
        ApiKey.digest == bindparam("digest"), ApiKey.revoked_at.is_(None)
    ),
)
