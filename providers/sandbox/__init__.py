"""Simulated insurers for development, demos, benchmarks and fault tests.

One aiohttp server hosts four insurers under path prefixes, each with its own API style,
appetite, rating and rate table: ``/harbor`` and ``/summit`` (synchronous JSON), ``/meridian``
(asynchronous, signed callbacks, polling) and ``/acorn`` (ACORD-style XML). Faults are switched
per insurer at start-up (:class:`SandboxConfig`) or at run time through ``/_control``.
"""

from providers.sandbox._config import (
    DEFAULT_ADDITIONAL_INSURED,
    DEFAULT_API_KEYS,
    DEFAULT_CALLBACK_SECRET,
    Faults,
    Latency,
    SandboxConfig,
)
from providers.sandbox._rating import hazard_class
from providers.sandbox._server import (
    SUMMIT_APPETITE,
    SandboxHandle,
    create_sandbox_app,
    default_sandbox_provider_settings,
    run_sandbox,
    start_sandbox,
)

__all__ = [
    "DEFAULT_ADDITIONAL_INSURED",
    "DEFAULT_API_KEYS",
    "DEFAULT_CALLBACK_SECRET",
    "SUMMIT_APPETITE",
    "Faults",
    "Latency",
    "SandboxConfig",
    "SandboxHandle",
    "create_sandbox_app",
    "default_sandbox_provider_settings",
    "hazard_class",
    "run_sandbox",
    "start_sandbox",
]
