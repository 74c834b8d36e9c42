"""Simulated insurers for development, demos, benchmarks and fault tests.

One aiohttp server hosts five insurers under path prefixes, each with its own API style,
appetite, rating and rate table: ``/harbor`` and ``/summit`` (synchronous JSON), ``/meridian``
(asynchronous, signed callbacks, polling), ``/acorn`` (ACORD-style XML) and ``/keystone`` (the
accelerator's canonical API, ``providers.canonical``). The first four are what
:func:`default_sandbox_provider_settings` configures; ``keystone`` has its own
:func:`canonical_sandbox_provider_settings`. Faults are switched
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
    KEYSTONE_APPETITE,
    SUMMIT_APPETITE,
    SandboxHandle,
    canonical_sandbox_provider_settings,
    create_sandbox_app,
    default_sandbox_provider_settings,
    run_sandbox,
    start_sandbox,
)

__all__ = [
    "DEFAULT_ADDITIONAL_INSURED",
    "DEFAULT_API_KEYS",
    "DEFAULT_CALLBACK_SECRET",
    "KEYSTONE_APPETITE",
    "SUMMIT_APPETITE",
    "Faults",
    "Latency",
    "SandboxConfig",
    "SandboxHandle",
    "canonical_sandbox_provider_settings",
    "create_sandbox_app",
    "default_sandbox_provider_settings",
    "hazard_class",
    "run_sandbox",
    "start_sandbox",
]
