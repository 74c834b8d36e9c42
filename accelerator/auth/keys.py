"""Issuing, listing, revoking and resolving API keys.

Keys are 32 random bytes, so a single SHA-256 digest is enough to store them safely (a slow
password hash protects guessable secrets; these are not guessable) and lets each request find
its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from accelerator.auth import repository
from accelerator.auth.models import ApiKey
from accelerator.auth.principal import Principal, Role
from accelerator.infra.database import Database

if TYPE_CHECKING:  # the CLI's `keys create` should not load what serving needs
    from accelerator.auth.cache import KeyCache

KEY_PREFIX = "acc_"
PREFIX_LENGTH = 12
BOOTSTRAP_KEY_ID = "bootstrap-admin"


#: A provider id a partner key may be bound to: as the ids of configured insurers are written
#: (they appear in URLs), and no wider than the column.
PROVIDER_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class KeyRequestError(ValueError):
    """An API key request that cannot be honoured (e.g. a seller key without a seller id);
    ``field`` names the offending field (``seller_id``, ``provider_id``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class IssuedKey(msgspec.Struct, frozen=True):
    """A freshly created key: ``secret`` is shown once and never stored."""

    id: str
    secret: str
    prefix: str
    role: Role
    seller_id: str | None
    name: str
    provider_id: str | None = None


class KeyInfo(msgspec.Struct, frozen=True):
    id: str
    prefix: str
    role: Role
    seller_id: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None
    provider_id: str | None = None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_key_request(role: Role, *, seller_id: str | None, provider_id: str | None) -> None:
    """Refuse a key request that binds the wrong things: a seller key needs a seller id and a
    partner key a provider id, and no other key takes either. The provider need not be
    configured now (keys outlive configuration: a partner key works again once its insurer is
    configured again)."""
    if role is Role.SELLER and not seller_id:
        raise KeyRequestError("seller_id", "a seller key needs --seller-id")
    if role is not Role.SELLER and seller_id:
        raise KeyRequestError("seller_id", "only seller keys are bound to a seller id")
    if role is Role.PARTNER and not provider_id:
        raise KeyRequestError("provider_id", "a partner key needs --provider (the insurer's id)")
    if role is not Role.PARTNER and provider_id:
        raise KeyRequestError("provider_id", "only partner keys are bound to a provider id")
    if provider_id and not PROVIDER_ID_PATTERN.fullmatch(provider_id):
        raise KeyRequestError(
            "provider_id",
            "a provider id is 1 to 64 letters, digits and . _ : - (as in the providers setting)",
        )


async def create_key(
    db: Database,
    role: Role,
    *,
    seller_id: str | None = None,
    provider_id: str | None = None,
    name: str = "",
) -> IssuedKey:
    """Store a new key and return its secret (the only time it is available). Raises
    KeyRequestError naming the field for a request :func:`check_key_request` refuses."""
    check_key_request(role, seller_id=seller_id, provider_id=provider_id)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id, prefix = str(uuid.uuid4()), secret[:PREFIX_LENGTH]
    await repository.add_key(
        db,
        key_id=key_id,
        prefix=prefix,
        digest=digest(secret),
        role=role,
        seller_id=seller_id,
        provider_id=provider_id,
        name=name,
        created_at=datetime.now(UTC),
    )
    return IssuedKey(key_id, secret, prefix, role, seller_id, name, provider_id)


async def list_keys(db: Database) -> list[KeyInfo]:
    return [_info(row) for row in await repository.keys_oldest_first(db)]


async def revoke_key(db: Database, key_id_or_prefix: str) -> KeyInfo | None:
    """Revoke by id or by the printed prefix; None if no such key."""
    row = await repository.revoke(db, key_id_or_prefix, datetime.now(UTC))
    return None if row is None else _info(row)


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.prefix,
        Role(row.role),
        row.seller_id,
        row.name,
        row.created_at,
        row.revoked_at,
        row.provider_id,
    )


async def resolve_key(
    keys: KeyCache | Database, secret: str, bootstrap_key: str | None
) -> Principal | None:
    """The principal for a presented key, or None if it is unknown or revoked: from the
    process's cache of active keys, or (given the database) from the database itself."""
    if bootstrap_key and hmac.compare_digest(secret.encode(), bootstrap_key.encode()):
        return Principal(BOOTSTRAP_KEY_ID, Role.ADMIN, None, "bootstrap admin")
    # Every authenticated request runs this: from this process's cache of active keys, else a
    # plain statement on the driver.
    if isinstance(keys, Database):
        return await repository.active_key(keys, digest(secret))
    return await keys.active_key(digest(secret))


async def no_seller_key_yet(db: Database) -> bool:
    """Whether no seller key is active, as on a first start; False when the keys cannot be
    read at all (a database not migrated: the service reports that itself)."""
    try:
        return not await repository.has_active_seller_key(db)
    except SQLAlchemyError:
        return False
