"""The lock that lets a periodic sweep run in one process at a time (the renewal and reminder
sweeps): each page's write transaction takes it first, and a process that cannot take it stops
its sweep, since another is sweeping."""

from __future__ import annotations

from sqlalchemy import text

from accelerator.infra.database import Database, WriteSession


async def take_sweep_lock(db: Database, session: WriteSession, key: int) -> bool:
    """Whether this transaction may sweep. On PostgreSQL: the transaction-level advisory lock
    ``key``, tried without waiting and released at commit. On SQLite the write transaction
    begins IMMEDIATE, which already excludes every other writer."""
    if db.is_sqlite:
        return True
    taken = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=key))
    return bool(taken)


__all__ = ["take_sweep_lock"]
