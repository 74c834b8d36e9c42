"""``python -m bench drill <name>``: run one reliability drill; exit status 1 if it fails."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from bench import databases
from bench.drills import DrillResult

RESULTS = Path(__file__).resolve().parent / "results"


def _finish(result: DrillResult, out: Path) -> None:
    click.echo(result.text())
    click.echo(f"written: {result.write(out)}", err=True)
    if not result.passed:
        sys.exit(1)


def _each_database(
    kinds: tuple[str, ...], out: Path, name: str, work: Callable[[str, Path], DrillResult]
) -> None:
    failed = False
    for kind in kinds or databases.KINDS:
        with databases.scratch(kind, f"drill_{name}", out) as url:
            result = work(url, out / "logs" / f"{name}-{kind}")
        result.name = f"{name}-{kind}"
        click.echo(result.text())
        click.echo(f"written: {result.write(out)}", err=True)
        failed |= not result.passed
    if failed:
        sys.exit(1)


_out = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the drill's JSON and logs go [default: bench/results/drill-<time>].",
)
_kinds = click.option(
    "--database",
    "kinds",
    type=click.Choice(databases.KINDS),
    multiple=True,
    help="Run on these databases only (repeatable; default: both).",
)


def _out_dir(out: Path | None) -> Path:
    return out or RESULTS / f"drill-{time.strftime('%Y%m%d-%H%M%S')}"


@click.group()
def drill() -> None:
    """Reliability drills: faults, crash, notify-crash, bind-crash, schemathesis, soak
    (docs/performance.md)."""


@drill.command()
@click.option("--deadline", default=2.0, show_default=True, help="Quote deadline, seconds.")
@click.option(
    "--concurrent", default=4, show_default=True, help="Requests at once per round (at most 4)."
)
@click.option("--rounds", default=2, show_default=True, help="Rounds of requests per fault.")
@_kinds
@_out
def faults(
    deadline: float, concurrent: int, rounds: int, kinds: tuple[str, ...], out: Path | None
) -> None:
    """Every sandbox fault alone and mixed: each quote request completes by its deadline."""
    from bench.drills import faults as drill_faults

    target = _out_dir(out)
    _each_database(
        kinds,
        target,
        "faults",
        lambda url, logs: drill_faults.run(
            url, logs, deadline=deadline, concurrent=concurrent, rounds=rounds
        ),
    )


@drill.command()
@click.option("--deadline", default=2.0, show_default=True, help="Quote deadline, seconds.")
@_kinds
@_out
def crash(deadline: float, kinds: tuple[str, ...], out: Path | None) -> None:
    """kill -9 of the API (and of a worker) mid fan-out and mid webhook processing, restart."""
    from bench.drills import crash as drill_crash

    _each_database(
        kinds,
        _out_dir(out),
        "crash",
        lambda url, logs: drill_crash.run(url, logs, deadline=deadline),
    )


@drill.command("notify-crash")
@click.option("--messages", default=300, show_default=True, help="Events queued for delivery.")
@_out
def notify_crash(messages: int, out: Path | None) -> None:
    """kill -9 of `accelerator worker` mid notification delivery; a second worker finishes."""
    from bench.drills import notify_crash as drill_notify_crash

    _each_database(
        ("postgresql",),
        _out_dir(out),
        "notify_crash",
        lambda url, logs: drill_notify_crash.run(url, logs, messages=messages),
    )


@drill.command("bind-crash")
@click.option("--deadline", default=2.0, show_default=True, help="Quote deadline, seconds.")
@click.option(
    "--abandoned-after",
    default=2.0,
    show_default=True,
    help="Seconds after which the restarted API takes the killed bind over.",
)
@_kinds
@_out
def bind_crash(
    deadline: float, abandoned_after: float, kinds: tuple[str, ...], out: Path | None
) -> None:
    """kill -9 of the API while the insurer is binding, restart: bound, the retry answered."""
    from bench.drills import bind_crash as drill_bind_crash

    _each_database(
        kinds,
        _out_dir(out),
        "bind-crash",
        lambda url, logs: drill_bind_crash.run(
            url, logs, deadline=deadline, abandoned_after=abandoned_after
        ),
    )


@drill.command()
@click.option("--max-examples", default=30, show_default=True, help="Test cases per operation.")
@click.option("--max-time", type=float, default=None, help="Time budget, seconds.")
@click.option("--seed", default=1, show_default=True, help="Schemathesis random seed.")
@_kinds
@_out
def schemathesis(
    max_examples: int, max_time: float | None, seed: int, kinds: tuple[str, ...], out: Path | None
) -> None:
    """Fuzz the served OpenAPI document with a valid key: no 5xx, every error a problem."""
    from bench.drills import fuzz

    _each_database(
        kinds,
        _out_dir(out),
        "schemathesis",
        lambda url, logs: fuzz.run(
            url, logs, max_examples=max_examples, max_time=max_time, seed=seed
        ),
    )


@drill.command()
@click.option("--minutes", default=5.0, show_default=True, help="How long the load lasts.")
@click.option("--rate", default=50.0, show_default=True, help="Requests per second.")
@_kinds
@_out
def soak(minutes: float, rate: float, kinds: tuple[str, ...], out: Path | None) -> None:
    """A steady mixed load for minutes: memory flat, no errors, nothing left unfinished."""
    from bench.drills import soak as drill_soak

    _each_database(
        kinds,
        _out_dir(out),
        "soak",
        lambda url, logs: drill_soak.run(url, logs, minutes=minutes, rate=rate),
    )
