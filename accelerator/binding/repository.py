"""Binding's storage: the only code that reads or writes ``bind_records``, the idempotency keys
of bind calls (the quote request and its offers are quoting's: ``quoting.repository``).

:func:`claim_key` and :func:`key_record` take the ``Database`` and run their own transaction;
:func:`record_answer` and :func:`release_key` join the caller's, so that a key gets its answer
(or is freed) in the transaction that settles its bind, and a crash cannot separate the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from accelerator.binding.models import BindRecord
from accelerator.infra.database import Database, WriteSession
from schemas import BindResponse


@dataclass(frozen=True)
class KeyRecord:
    """What a key was first sent with (``fingerprint``) and when, and its answer once it has
    one."""

    fingerprint: str
    created_at: datetime
    status_code: int | None
    body: BindResponse | None


async def claim_key(
    db: Database, principal_id: str, key: str, fingerprint: str, now: datetime
) -> bool:
    """Record ``key`` as in progress for this caller since ``now``; False if the caller has used
    it before."""
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
        created_at=record.created_at,
        status_code=record.status_code,
        body=msgspec.convert(record.response, BindResponse) if answered else None,
    )


async def record_answer(
    session: WriteSession, principal_id: str, key: str, status_code: int, body: BindResponse
) -> None:
    """Keep the answer the key got, to give it again to the same request (in the caller's
    transaction)."""
    await session.execute(
        update(BindRecord)
        .where(
            BindRecord.principal_id == principal_id,
            BindRecord.idempotency_key == key,
            BindRecord.status_code.is_(None),
        )
        .values(status_code=status_code, response=msgspec.to_builtins(body))
    )


async def release_key(
    session: WriteSession, principal_id: str, key: str, *, created_at: datetime | None = None
) -> None:
    """Forget a key still in progress (its bind failed, or never started), so that it may be sent
    again; with ``created_at``, only the record made then (not one a retry has made since)."""
    condition = [
        BindRecord.principal_id == principal_id,
        BindRecord.idempotency_key == key,
        BindRecord.status_code.is_(None),
    ]
    if created_at is not None:
        condition.append(BindRecord.created_at == created_at)
    await session.execute(delete(BindRecord).where(*condition))
