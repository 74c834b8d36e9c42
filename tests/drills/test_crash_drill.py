from __future__ import annotations

from collections.abc import Callable

from bench.drills import DrillResult, crash
from tests.drills.conftest import Drill, failures


def test_kill_9_mid_fan_out_and_mid_webhooks_loses_nothing_and_applies_nothing_twice(
    run_on_each: Callable[[Drill], dict[str, DrillResult]],
) -> None:
    # On SQLite the inbox settles just before the kill: claims of a killed in-process worker
    # wait out a 60 s lease (`python -m bench drill crash` kills mid-processing on both).
    results = run_on_each(
        lambda url, logs: crash.run(
            url,
            logs,
            deadline=1.0,
            webhooks_at_kill=not url.startswith("sqlite"),
            webhook_senders=1,
        )
    )
    assert all(r.passed for r in results.values()), failures(results)
    for result in results.values():
        assert result.facts["webhooks acknowledged"] > 0
        assert result.facts["quote requests accepted"] > 0
