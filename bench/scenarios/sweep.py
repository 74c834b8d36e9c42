"""The reminder sweep (``notifications.sweep``) over the large registry: 1,000,000 policies
(100,000 with ``--quick``), the coverage benchmark's registry (``bench.registry``) with every
tenth seller's current policy ending in 25 days.

Two sweeps run one after the other, in this process, with the clock fixed at the registry's
``now`` and one endpoint subscribed to every event (so each reminder writes its message, as in
production):

- the **first** finds one policy in twenty due (every tenth seller's current policy of two
  policies a seller: 5%), announces its 30-day ``policy.expiring`` and marks the 60-day one
  skipped;
- the **steady state** sweep finds nothing new due: what it costs every
  ``reminder_sweep_seconds`` on a registry where nothing changed. The database's statistics are
  refreshed between the two (``ANALYZE``), as autovacuum does within a minute of the first
  sweep's inserts: with the marker table's statistics still those of an empty table, PostgreSQL
  reads every marker of the kind for each page (measured once: 13.2 s instead of the figure
  reported, over 100,000 policies).

There is no baseline to divide by: the figures are the sweeps' wall times and the time per policy
in the registry (reported in the notes, with the sweep process's own CPU time; the rest is the
database's).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from accelerator.infra.database import open_database
from accelerator.notifications.models import EndpointRow, MessageRow, ReminderRow
from accelerator.notifications.sweep import ReminderSweep, SweepResult
from accelerator.risk.taxonomy import load_taxonomy
from accelerator.rulesets.loader import load_rulesets
from accelerator.sellers.service import SellerService
from bench import databases, registry
from bench.context import RunContext, expect

SCENARIO = "sweep"
#: Every this-many-th seller's current policy is due a reminder at the first sweep.
DUE_EVERY = 10


async def _endpoint(url: str, now: datetime) -> None:
    db = open_database(url)
    try:
        async with db.writing() as session:
            session.add(
                EndpointRow(
                    id="ep_sweep_bench",
                    url="https://receiver.invalid/hooks",  # never sent to: no worker runs here
                    event_types=[],
                    seller_id=None,
                    marketplace=None,
                    secrets=[{"secret": "whsec_c3dlZXAtYmVuY2gtc2VjcmV0", "expires_at": None}],
                    enabled=True,
                    disabled_reason=None,
                    failing_since=None,
                    created_at=now,
                    updated_at=now,
                )
            )
    finally:
        await db.dispose()


async def _sweeps(url: str, now: datetime) -> list[tuple[SweepResult, float, float]]:
    """The two sweeps: each one's result, wall seconds and this process's CPU seconds."""
    db = open_database(url)
    rulebook = load_rulesets()
    sweep = ReminderSweep(
        db, SellerService(db, rulebook, load_taxonomy()), rulebook, clock=lambda: now
    )
    timed = []
    try:
        for sweep_number in range(2):
            if sweep_number:
                # The first sweep wrote every marker into an empty table: its statistics are
                # refreshed, as autovacuum's analyze does within a minute (before the next tick).
                async with db.writing() as session:
                    await session.execute(text("ANALYZE"))
            wall, cpu = time.perf_counter(), time.process_time()
            result = await sweep.run()
            expect(result is not None, "another process held the sweep's lock")
            assert result is not None
            timed.append((result, time.perf_counter() - wall, time.process_time() - cpu))
        async with db.reading() as session:
            messages = await session.scalar(select(func.count()).select_from(MessageRow))
            markers = await session.scalar(select(func.count()).select_from(ReminderRow))
        expect(messages == timed[0][0].expiring, f"{messages} messages for the reminders")
        expect(markers == 2 * timed[0][0].expiring, f"{markers} markers (60 skipped, 30 sent)")
    finally:
        await db.dispose()
    return timed


def run(ctx: RunContext, database: str, policies: int) -> None:
    # A database of its own on PostgreSQL: another run may hold the default one.
    own = f"{databases.PREFIX}_sweep"
    url = (
        databases.fresh_postgres(own)
        if database == "postgresql"
        else databases.fresh(database, ctx.out)
    )
    sellers = policies // registry.POLICIES_PER_SELLER
    now = datetime.now(UTC)
    ctx.say(f"{SCENARIO}/{database}: seeding {policies:,} policies")
    registry.grow_registry(url, first_seller=0, sellers=sellers, now=now, ending_every=DUE_EVERY)
    asyncio.run(_endpoint(url, now))
    ctx.say(f"{SCENARIO}/{database}: sweeping")
    (first, first_s, first_cpu), (steady, steady_s, steady_cpu) = asyncio.run(_sweeps(url, now))
    due = len(range(0, sellers, DUE_EVERY))
    expect(first.expiring == due, f"the first sweep announced {first.expiring} of {due}")
    expect(steady.expiring == 0 and steady.deadlines == 0, f"the second announced {steady}")
    for name, seconds, cpu in (
        ("first", first_s, first_cpu),
        ("steady-state", steady_s, steady_cpu),
    ):
        ctx.notes.append(
            f"{SCENARIO}/{database}: {name} reminder sweep over {policies:,} policies "
            f"({due:,} due, {due / policies:.0%}; {first.expiring if name == 'first' else 0:,} "
            f"announced): {seconds:.2f} s, {seconds / policies * 1e6:.1f} µs a policy "
            f"(the sweeping process's CPU {cpu:.2f} s)"
        )
    if database == "postgresql":
        databases.drop_postgres(own)
