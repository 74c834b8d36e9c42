"""Storage fixtures for the quoting tests: the seller whose requests they store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accelerator.infra.database import Database
from accelerator.sellers.models import Seller


@pytest.fixture
async def seller(database: Database) -> str:
    """Seller s-1 (the seller of ``fakes.make_request``), stored without a profile."""
    now = datetime.now(UTC)
    async with database.writing() as session:
        session.add(
            Seller(
                id="s-1",
                legal_name="Volt Goods LLC",
                marketplace="US",
                created_at=now,
                updated_at=now,
            )
        )
    return "s-1"
