"""Alembic environment: async engines for SQLite and PostgreSQL, models from accelerator.models."""

from __future__ import annotations

import asyncio
import warnings

from alembic import context
from sqlalchemy.engine import Connection

from accelerator.infra.database import create_engine
from accelerator.models import metadata

config = context.config

#: Expression indexes alembic cannot compare (the database hands back its own spelling of the
#: expression): each is created by its migration with the text its model renders, and a test
#: checks the query it serves uses it (tests/notifications/test_reminders.py).
_UNCOMPARED_INDEXES = frozenset({"ix_policy_events_period_end"})


def _compared(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "index" and name in _UNCOMPARED_INDEXES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_compared,
    )
    with context.begin_transaction(), warnings.catch_warnings():
        # SQLite's reflection skips an expression index with a warning: expected for these.
        for name in _UNCOMPARED_INDEXES:
            warnings.filterwarnings("ignore", f"Skipped unsupported reflection of .* index {name}")
            warnings.filterwarnings("ignore", f"autogenerate skipping .* index '{name}'")
        context.run_migrations()


async def _run_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url, for_writes=True, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `accelerator migrate`")
asyncio.run(_run_online())
