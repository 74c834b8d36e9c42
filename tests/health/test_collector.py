"""The running app keeps what it built at start-up out of the garbage collector's full passes
(a fifth of a batch check's CPU, docs/performance.md), and gives it back when it stops, so that
a stopped app can be collected."""

from __future__ import annotations

import gc

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

pytestmark = pytest.mark.anyio


async def test_start_up_objects_are_frozen_while_the_app_runs_and_released_after(
    app: Litestar,
) -> None:
    gc.unfreeze()
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health/live")).status_code == 200
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
