"""On SQLite, how far a commit goes before the service answers is the operator's choice
(``ACCELERATOR_SQLITE_SYNCHRONOUS``, docs/operations.md "Durability"), and it holds on every
connection that commits: the engines', the one receipts are flushed on, and the webhook
receive path's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from accelerator.infra.database import Database, open_database
from accelerator.infra.driver_writes import write_connection
from accelerator.infra.statements import Statement
from accelerator.settings import SettingsError, load_settings
from accelerator.webhooks.repository import InboxRepository

pytestmark = pytest.mark.anyio

# SQLite reports the level as a number: 1 NORMAL, 2 FULL.
_LEVELS = {"normal": 1, "full": 2}
_READ_LEVEL = Statement.text("read_synchronous", sqlite="PRAGMA synchronous", register=False)


@pytest.fixture(params=["normal", "full"])
async def opened(
    request: pytest.FixtureRequest, sqlite_url: str
) -> AsyncIterator[tuple[Database, int]]:
    """A database opened as the service opens it with the setting, and the level it asks."""
    settings = load_settings(
        {"ACCELERATOR_DATABASE_URL": sqlite_url, "ACCELERATOR_SQLITE_SYNCHRONOUS": request.param}
    )
    db = open_database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        yield db, _LEVELS[request.param]
    finally:
        await db.dispose()


async def _levels(db: Database) -> dict[str, int]:
    """The level each kind of connection that commits reports."""
    async with db.write_engine.connect() as connection:
        engine = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar_one()
    async with write_connection(db) as driver:  # the receipts' flushes
        [(receipts,)] = await driver.execute_fetchall("PRAGMA synchronous")
    inbox = InboxRepository(db)  # the webhook receive path opens its own connection
    try:
        row = await inbox._writes.fetch_one(_READ_LEVEL)
    finally:
        await inbox.close()
    assert row is not None
    return {"engine": engine, "receipts": receipts, "webhook receive": row[0]}


async def test_every_connection_that_commits_waits_as_configured(
    opened: tuple[Database, int],
) -> None:
    db, level = opened
    assert await _levels(db) == dict.fromkeys(("engine", "receipts", "webhook receive"), level)


def test_the_default_survives_the_service_crash_without_an_fsync_per_commit() -> None:
    assert load_settings({}).sqlite_synchronous == "normal"


@pytest.mark.parametrize("value", ["off", "FULL"])
def test_an_unknown_level_is_refused_naming_the_setting_and_the_levels(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"ACCELERATOR_SQLITE_SYNCHRONOUS": value})
    assert str(raised.value) == (
        "invalid setting sqlite_synchronous (ACCELERATOR_SQLITE_SYNCHRONOUS): "
        f"Invalid enum value '{value}'; one of: normal, full"
    )
