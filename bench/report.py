"""The run's report: ``results.json`` (everything measured) and ``results.md`` (the tables)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from bench.context import RunContext
from bench.machine import Machine


def _figure(value: float) -> str:
    if math.isnan(value):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def as_json(ctx: RunContext, machine: Machine, command: str) -> dict[str, Any]:
    document: dict[str, Any] = _json_safe(
        {
            "command": command,
            "machine": dataclasses.asdict(machine),
            "cores": ctx.cores.describe(),
            "quick": ctx.quick,
            "timing": dataclasses.asdict(ctx.timing),
            "notes": ctx.notes,
            "comparisons": [c.as_json() for c in ctx.comparisons],
            "measurements": [dataclasses.asdict(m) for m in ctx.measurements],
        }
    )
    return document


def as_markdown(ctx: RunContext, machine: Machine, command: str) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"- command: `{command}`",
        f"- machine: {machine.one_line()}",
        f"- pinning: {ctx.cores.describe()}",
        f"- each measurement: {ctx.timing.warmup_seconds:g} s warm-up, "
        f"{ctx.timing.duration_seconds:g} s measured" + (" (quick mode)" if ctx.quick else ""),
        *[f"- {note}" for note in ctx.notes],
        "",
        "## Ratios against baselines from the same run",
        "",
        "| scenario | db | metric | value | baseline | baseline value | ratio | target | met |",
        "|---|---|---|---:|---|---:|---:|---|---|",
    ]
    for c in ctx.comparisons:
        met = {None: "", True: "yes", False: "**no**"}[c.met]
        lines.append(
            f"| {c.scenario} | {c.database} | {c.metric} | {_figure(c.value)} {c.unit} | "
            f"{c.baseline} | {_figure(c.baseline_value)} {c.unit} | {_figure(c.ratio)} | "
            f"{c.target or ''} | {met} |"
        )
    lines += [
        "",
        "## Every measurement",
        "",
        "| scenario | db | endpoint | load | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | "
        "max ms | failures |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in ctx.measurements:
        latency = m.latency_ms
        lines.append(
            f"| {m.scenario} | {m.database} | {m.label} | {m.load()} | {_figure(m.throughput)} | "
            f"{_figure(latency.p50)} | {_figure(latency.p90)} | {_figure(latency.p99)} | "
            f"{_figure(latency.p999)} | {_figure(latency.max)} | {m.failures} |"
        )
    return "\n".join(lines) + "\n"


def write(ctx: RunContext, machine: Machine, command: str) -> tuple[Path, Path]:
    ctx.out.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = ctx.out / "results.json", ctx.out / "results.md"
    json_path.write_text(json.dumps(as_json(ctx, machine, command), indent=2) + "\n")
    markdown_path.write_text(as_markdown(ctx, machine, command))
    return json_path, markdown_path
