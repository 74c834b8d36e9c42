"""``python -m bench``: the benchmark suite (``run``) and the reliability drills (``drill``)."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import click

from bench import databases, processes, profiles, report
from bench.cli_drills import drill
from bench.context import RunContext, Timing
from bench.machine import describe

SCENARIOS = ("fanout", "coverage", "metrics", "webhooks", "notifications", "sweep")
# Only when named: it repeats other scenarios' loads with one and two processes (issue 22).
OPT_IN = ("scaleout",)
RESULTS = Path(__file__).resolve().parent / "results"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Benchmarks and reliability drills for the Insurance Accelerator (docs/performance.md)."""


@main.command()
@click.option("--quick", is_flag=True, help="Short measurements and a 100,000-policy registry.")
@click.option(
    "--scenario",
    "scenarios",
    type=click.Choice(SCENARIOS + OPT_IN),
    multiple=True,
    help="Run only these scenarios (repeatable; default: all but scaleout, which is PostgreSQL "
    "only and runs coverage, fan-out and webhook loads with one and two API processes).",
)
@click.option(
    "--database",
    "kinds",
    type=click.Choice(databases.KINDS),
    multiple=True,
    help="Run only on these databases (repeatable; default: both).",
)
@click.option(
    "--large-registry",
    type=click.IntRange(20_000),
    default=None,
    help="Policies in the large registry [default: 1,000,000; 100,000 with --quick].",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Sample the server with py-spy (on PATH) during each measurement; see profiles/.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where results.json, results.md and the logs go [default: bench/results/<time>].",
)
def run(
    quick: bool,
    scenarios: tuple[str, ...],
    kinds: tuple[str, ...],
    large_registry: int | None,
    profile: bool,
    out: Path | None,
) -> None:
    """Run the scenarios; write results.json and results.md (ratios against baselines)."""
    from bench.scenarios import (
        coverage,
        fanout,
        metrics,
        notifications,
        scaleout,
        sweep,
        webhooks,
    )

    command = "python -m bench " + shlex.join(sys.argv[1:])
    ctx = RunContext(
        out=out or RESULTS / time.strftime("%Y%m%d-%H%M%S"),
        quick=quick,
        cores=processes.CorePlan.for_this_machine(),
        timing=Timing.for_mode(quick),
        profile=profile,
    )
    if profile and profiles.py_spy() is None:
        ctx.say("--profile: py-spy is not on PATH; measuring without profiles")
        ctx.profile = False
    machine = describe(databases.postgres_version())
    ctx.say(f"{machine.one_line()}; {ctx.cores.describe()}")
    large = large_registry or (100_000 if quick else 1_000_000)
    chosen_kinds = kinds or databases.KINDS
    try:
        for scenario in scenarios or SCENARIOS:
            for kind in chosen_kinds:
                if scenario == "fanout":
                    fanout.run(ctx, kind)
                elif scenario == "coverage":
                    coverage.run(ctx, kind, large)
                elif scenario == "metrics":
                    metrics.run(ctx, kind)
                elif scenario == "webhooks":
                    webhooks.run(ctx, kind)
                elif scenario == "sweep":
                    sweep.run(ctx, kind, large)
                elif scenario == "scaleout":
                    scaleout.run(ctx, kind)
                else:
                    notifications.run(ctx, kind)
    finally:
        json_path, markdown_path = report.write(ctx, machine, command)
        if "postgresql" in chosen_kinds:
            databases.drop_postgres()
    click.echo(markdown_path.read_text())
    click.echo(f"written: {json_path} and {markdown_path}", err=True)


main.add_command(drill)
