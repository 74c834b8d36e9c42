"""Binding's storage: the only code that reads or writes ``bind_records``, the idempotency keys
of bind calls (the quote request and its offers are quoting's: ``quoting.repository``).

Like quoting's, each function takes the ``Database`` and runs its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from accelerator.binding.models import BindRecord
from accelerator.infra.database import Database
from schemas import BindResponse


@dataclass(frozen=True)
class KeyRecord:
    """What a key was first sent with (``fingerprint``), and its answer once it has one."""

    fingerprint: str
    status_code: int | None
    body: BindResponse | None


async def claim_key(
    db: Database, principal_id: str, key: str, fingerprint: str, now: datetime
) -> bool:
    """Record ``key`` as in progress for this caller; False if the caller has used it before."""
    try:
        async with db.writing() as session:
            session.add(
                BindRecord(
                    principal_id=principal_id,
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    status_code=None,
                    response=None,
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


async def key_record(db: Database, principal_id: str, key: str) -> KeyRecord | None:
    """The caller's record of ``key``, if there is one."""
    async with db.reading() as session:
        record = await session.get(BindRecord, (principal_id, key))
    if record is None:
        return None
    answered = record.status_code is not None and record.response is not None
    return KeyRecord(
        fingerprint=record.fingerprint,
        status_code=record.status_code,
        body=msgspec.convert(record.response, BindResponse) if answered else None,
    )


async def record_answer(
    db: Database, principal_id: str, key: str, status_code: int, body: BindResponse
) -> None:
    """Keep the answer the key got, to give it again to the same request."""
    async with db.writing() as session:
        await session.execute(
            update(BindRecord)
            .where(BindRecord.principal_id == principal_id, BindRecord.idempotency_key == key)
            .values(status_code=status_code, response=msgspec.to_builtins(body))
        )


async def release_key(db: Database, principal_id: str, key: str) -> None:
    """Forget a key still in progress (its bind failed), so that it may be sent again."""
    async with db.writing() as session:
        await session.execute(
            delete(BindRecord).where(
                BindRecord.principal_id == principal_id,
                BindRecord.idempotency_key == key,
                BindRecord.status_code.is_(None),
            )
        )
