from __future__ import annotations

from pathlib import Path

import pytest

from bench.drills import notify_crash


def test_kill_9_of_the_worker_mid_delivery_loses_no_notification(
    drill_databases: dict[str, str], tmp_path: Path
) -> None:
    url = drill_databases.get("postgresql")
    if url is None:
        pytest.skip("the external worker runs on PostgreSQL")
    result = notify_crash.run(url, tmp_path / "postgresql", messages=60)
    assert result.passed, result.text()
    assert result.facts["at the kill: requests held open"] > 0
