"""Sandbox configuration: seed, callback target, API keys and the faults of each insurer."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = [
    "DEFAULT_ADDITIONAL_INSURED",
    "DEFAULT_API_KEYS",
    "DEFAULT_CALLBACK_SECRET",
    "Faults",
    "Latency",
    "SandboxConfig",
]

# Fixed so that a sandbox and a service started separately agree without coordination; a real
# deployment passes its own secret (``accelerator sandbox --secret``).
DEFAULT_CALLBACK_SECRET = "whsec_c2FuZGJveC1jYWxsYmFjay1zZWNyZXQtMzItYnl0ZXM="  # noqa: S105
DEFAULT_ADDITIONAL_INSURED = "Amazon.com Services LLC"
DEFAULT_API_KEYS: dict[str, str] = {
    "harbor": "sandbox-harbor-key",
    "summit": "sandbox-summit-key",
    "meridian": "sandbox-meridian-key",
    # HTTP Basic credentials, user:password.
    "acorn": "acorn-agent:sandbox-acorn-password",
    "keystone": "sandbox-keystone-key",
}

Rate = Annotated[float, Meta(ge=0, le=1, description="Probability per request, 0..1.")]
Millis = Annotated[float, Meta(ge=0, le=600_000)]


class Latency(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Added before every answer: ``fixed_ms``, or uniform in ``min_ms..max_ms`` when both set."""

    fixed_ms: Millis = 0
    min_ms: Millis | None = None
    max_ms: Millis | None = None


class Faults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Faults of one insurer; every rate is a probability per request (1 = always).

    Drawn per request in this order, the first that fires wins: ``reset_rate`` (abort the TCP
    connection), ``hang_rate`` (never answer), ``rate_limit_rate`` (429 with ``Retry-After``),
    ``error_rate`` (500), then the answer itself is produced and may be made malformed
    (``malformed_rate``: a truncated body) and/or dribbled out over ``trickle_seconds``
    (``trickle_rate``). ``latency`` is added before any of them. ``bind_latency`` is added to
    every answer to a bind (a repeat included) after the insurer has decided it: the policy is
    issued and the answer kept for a repeated ``Idempotency-Key`` while the caller still waits,
    which is when a caller that dies leaves a policy it never heard of.
    """

    latency: Latency = Latency()
    bind_latency: Latency = Latency()
    error_rate: Rate = 0.0
    rate_limit_rate: Rate = 0.0
    retry_after_seconds: Annotated[int, Meta(ge=0, le=3600)] = 1
    malformed_rate: Rate = 0.0
    trickle_rate: Rate = 0.0
    trickle_seconds: Annotated[float, Meta(ge=0, le=600)] = 3.0
    hang_rate: Rate = 0.0
    reset_rate: Rate = 0.0


class SandboxConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a sandbox starts. Faults can be changed later through the control API.

    ``callback_url`` is the base the asynchronous insurer calls back to when a submission names
    none; the insurer's id is appended (``<callback_url>/meridian``).
    """

    seed: int = 0
    callback_url: str = ""
    callback_secret: str = DEFAULT_CALLBACK_SECRET
    callback_delay_seconds: Annotated[float, Meta(ge=0, le=3600)] = 0.5
    additional_insured_name: str = DEFAULT_ADDITIONAL_INSURED
    api_keys: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_API_KEYS))
    faults: dict[str, Faults] = msgspec.field(default_factory=dict)
