"""Simulated insurers at known latencies: one sandbox per insurer, all in one process.

``python -m bench.upstream 50:8201 100:8202 ...`` serves, for each ``LATENCY_MS:PORT``, a sandbox
whose synchronous-JSON insurer (``/harbor``) answers every quote after exactly that latency. The
service sees each as its own partner (see :func:`provider_settings`), and the bare fan-out
baseline calls the same URLs. Sandboxes rather than one app, because the sandbox's latency fault
is set per insurer and it simulates four: one sandbox per latency keeps it unmodified.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import Any

import msgspec

from providers import ProviderSettings
from providers.sandbox import (
    DEFAULT_API_KEYS,
    Faults,
    Latency,
    SandboxConfig,
    default_sandbox_provider_settings,
    start_sandbox,
)

INSURER = "harbor"


@dataclass(frozen=True)
class Insurer:
    provider_id: str
    latency_ms: float
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{INSURER}"


def spread(count: int, fastest_ms: float, slowest_ms: float) -> list[float]:
    """``count`` latencies evenly spread from fastest to slowest (both included)."""
    if count == 1:
        return [slowest_ms]
    step = (slowest_ms - fastest_ms) / (count - 1)
    return [round(fastest_ms + i * step, 1) for i in range(count)]


def provider_settings(
    insurers: list[Insurer], callback_base: str, secret: str
) -> dict[str, dict[str, Any]]:
    """The service's ``providers`` setting: one harbor-style partner per simulated insurer."""
    template = default_sandbox_provider_settings("http://unused", callback_base, [secret])[INSURER]
    return {
        insurer.provider_id: msgspec.to_builtins(
            msgspec.structs.replace(
                template,
                base_url=insurer.base_url,
                adapter=INSURER,
                insurer_name=f"Bench insurer {insurer.provider_id} ({insurer.latency_ms:g} ms)",
                callback_url=f"{callback_base}/{insurer.provider_id}",
            )
        )
        for insurer in insurers
    }


def template_settings(secret: str) -> ProviderSettings:
    return default_sandbox_provider_settings("http://unused", "", [secret])[INSURER]


async def serve(insurers: list[tuple[float, int]]) -> None:
    handles = [
        await start_sandbox(
            "127.0.0.1",
            port,
            SandboxConfig(
                api_keys=dict(DEFAULT_API_KEYS),
                faults={INSURER: Faults(latency=Latency(fixed_ms=latency))},
            ),
        )
        for latency, port in insurers
    ]
    try:
        await asyncio.Event().wait()
    finally:
        for handle in handles:
            await handle.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__)
    parser.add_argument("insurers", nargs="+", help="LATENCY_MS:PORT, one per insurer")
    parser.add_argument("--cpus", default="", help="comma-separated cores to run on")
    args = parser.parse_args()
    if args.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    pairs = [(float(a), int(b)) for a, b in (item.split(":") for item in args.insurers)]
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(pairs))


if __name__ == "__main__":
    main()
