"""Alembic environment: async engines for SQLite and PostgreSQL, models from accelerator.models."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from accelerator.infra.database import create_engine
from accelerator.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
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
