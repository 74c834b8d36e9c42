"""API keys held in each process, so that an authenticated request needs no database round trip.

A key found active is remembered by its digest until a revocation anywhere drops it:

- **PostgreSQL**: revoking a key notifies channel ``api_key_revoked`` (with the key's digest) in
  the revoking transaction; every process listens on a connection of its own and drops the key
  as the notification arrives, milliseconds after the commit.
- **SQLite**: every process reads ``PRAGMA data_version`` every :data:`SQLITE_POLL_SECONDS`; it
  changes whenever another connection commits, and then the process asks the database which of
  the keys it remembers are still active (one indexed statement over those few digests) and
  forgets the others. So a revocation is seen within that interval. Other writes cost that
  statement, not a lookup per request: dropping the whole cache at every commit made about half
  of the coverage checks look their key up again, since every check commits its receipt
  (docs/performance.md, "Single checks against the raw lookup").

The cache is trusted only while the feed of revocations is up: before the listener has
connected, after it lost its connection and until it is back, every request asks the database,
as before there was a cache. Unknown keys are never remembered, so a key issued a moment ago
works at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url

from accelerator.auth import repository
from accelerator.auth.principal import Principal
from accelerator.auth.repository import REVOCATION_CHANNEL
from accelerator.infra.database import Database
from accelerator.infra.lookups import asyncpg_dsn

__all__ = ["SQLITE_POLL_SECONDS", "KeyCache"]

logger = logging.getLogger("accelerator.auth.cache")

#: How often a process looks for another connection's commit on SQLite.
SQLITE_POLL_SECONDS = 0.05
# Beyond this many keys the cache starts again: keys are few, this bounds a flood of them.
_MAX_ENTRIES = 10_000
_RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)


class KeyCache:
    """The principals of active keys by digest, for this process. Run :meth:`watch` as a
    background task; until it has connected, :meth:`active_key` asks the database each time."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._entries: dict[str, Principal] = {}
        # Bumped at every drop: a lookup that started before a drop must not store its answer
        # (it may have read the key just before the revocation committed).
        self._generation = 0
        self._live = False

    @property
    def live(self) -> bool:
        """Whether revocations are being watched (and remembered keys may be trusted)."""
        return self._live

    async def active_key(self, digest: str) -> Principal | None:
        """The principal of the unrevoked key stored with ``digest``, if any."""
        if self._live and (known := self._entries.get(digest)) is not None:
            return known
        generation = self._generation
        principal = await repository.active_key(self._db, digest)
        if principal is not None and self._live and generation == self._generation:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = principal
        return principal

    def drop(self, digest: str | None = None) -> None:
        """Forget one key (``digest``), or every key."""
        self._generation += 1
        if digest is None:
            self._entries.clear()
        else:
            self._entries.pop(digest, None)

    async def watch(self) -> None:
        """Follow revocations until cancelled, reconnecting after a failure."""
        failures = 0
        while True:
            try:
                if self._db.is_sqlite:
                    await self._poll_sqlite()
                else:
                    await self._listen_postgres()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: ask it per request meanwhile
                if failures == 0:
                    logger.warning("API key revocations not followed (%s); asking per request", exc)
                failures += 1
            finally:
                self._live = False
                self.drop()
            await asyncio.sleep(_RECONNECT_SECONDS[min(failures, len(_RECONNECT_SECONDS) - 1)])

    async def _listen_postgres(self) -> None:
        import asyncpg  # type: ignore[import-untyped]  # no stubs published

        connection = await asyncpg.connect(asyncpg_dsn(self._db.url))
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(REVOCATION_CHANNEL, self._on_revoked)
            self.drop()  # whatever was revoked while nobody listened
            self._live = True
            await lost.wait()
            raise ConnectionError("the revocation listener's connection was lost")
        finally:
            self._live = False
            if not connection.is_closed():
                await connection.close()

    def _on_revoked(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.drop(payload or None)

    async def _forget_revoked(self) -> None:
        """After another connection committed: forget each remembered key that is no longer
        active (revoked, or gone)."""
        # A lookup in flight may have read its key before that commit: it must not store it.
        self._generation += 1
        remembered = list(self._entries)
        active = await repository.still_active(self._db, remembered)
        for digest in remembered:
            if digest not in active:
                self._entries.pop(digest, None)

    async def _poll_sqlite(self) -> None:
        async with aiosqlite.connect(str(make_url(self._db.url).database)) as connection:
            seen: int | None = None
            while True:
                async with connection.execute("PRAGMA data_version") as cursor:
                    row = await cursor.fetchone()
                version = int(row[0]) if row else 0
                if version != seen:
                    if seen is None:
                        self.drop()  # whatever was revoked while nobody watched
                    else:
                        await self._forget_revoked()
                    seen = version
                self._live = True
                await asyncio.sleep(SQLITE_POLL_SECONDS)
