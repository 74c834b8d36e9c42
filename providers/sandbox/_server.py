"""Build, start and run the sandbox app, and the provider settings that point at it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web

from providers._protocol import Appetite, ProviderSettings, RevenueBand
from providers.acord import ACORD_APPETITE
from providers.harbor import HARBOR_APPETITE
from providers.meridian import MERIDIAN_APPETITE
from providers.sandbox import _acord_api, _canonical_api, _control, _harbor_api, _meridian_api
from providers.sandbox._config import DEFAULT_API_KEYS, SandboxConfig
from providers.sandbox._faults import fault_middleware
from providers.sandbox._rating import INSURERS
from providers.sandbox._state import STATE, SandboxState

logger = logging.getLogger("providers.sandbox")

SUMMIT_APPETITE = Appetite(
    marketplaces=frozenset({"US"}),
    categories=(
        "apparel",
        "beauty",
        "books",
        "electronics",
        "health",
        "home",
        "jewelry",
        "office",
        "pets",
        "sports",
        "tools",
        "toys",
    ),
    revenue_bands=(RevenueBand("USD", Decimal(0), Decimal(30_000_000)),),
    max_per_occurrence=Decimal(2_000_000),
    max_risk_score=95,
)

KEYSTONE_APPETITE = Appetite(
    marketplaces=frozenset({"US", "CA"}),
    categories=(
        "apparel",
        "beauty",
        "electronics",
        "garden",
        "home",
        "office",
        "pets",
        "sports",
        "tools",
        "toys",
    ),
    revenue_bands=(
        RevenueBand("USD", Decimal(0), Decimal(40_000_000)),
        RevenueBand("CAD", Decimal(0), Decimal(50_000_000)),
    ),
    max_per_occurrence=Decimal(5_000_000),
    max_risk_score=95,
)

# Which adapter serves each sandbox insurer, and the appetite the service should declare for it
# (wide enough that the sandbox's own declines and referrals are reachable).
_ADAPTERS: dict[str, tuple[str | None, Appetite]] = {
    "harbor": (None, HARBOR_APPETITE),
    "summit": ("harbor", SUMMIT_APPETITE),
    "meridian": (None, MERIDIAN_APPETITE),
    "acorn": ("acord", ACORD_APPETITE),
}

_MAX_BODY = 1024 * 1024


def create_sandbox_app(config: SandboxConfig | None = None) -> web.Application:
    """The sandbox as an aiohttp application (not yet listening).

    aiohttp.web rather than an ASGI framework because the faults need direct control of the
    connection: dribbling body bytes over seconds, never answering, and aborting the transport
    (a TCP reset), none of which an ASGI server lets an application do.
    """
    state = SandboxState(config or SandboxConfig())
    app = web.Application(middlewares=[fault_middleware], client_max_size=_MAX_BODY)
    app[STATE] = state

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await state.open()
        yield
        await state.close()

    async def release_hung_requests(_: web.Application) -> None:
        # Runs before the server waits for in-flight handlers, so hangs end promptly.
        state.stopping.set()

    async def index(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "insurers": {
                    key: {"path": f"/{key}", "name": p.name, "rating": p.rating, "style": p.style}
                    for key, p in INSURERS.items()
                },
                "control": "/_control",
            }
        )

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(release_hung_requests)
    app.router.add_get("/", index)
    _harbor_api.add_routes(app, "harbor")
    _harbor_api.add_routes(app, "summit")
    _meridian_api.add_routes(app)
    _acord_api.add_routes(app)
    _canonical_api.add_routes(app)
    _control.add_routes(app)
    return app


@dataclass
class SandboxHandle:
    """A running sandbox: its base ``url`` (no trailing slash) and ``stop()``."""

    url: str
    app: web.Application
    _runner: web.AppRunner

    async def stop(self) -> None:
        """Release hung requests, cancel pending callbacks and close the listening socket."""
        self.app[STATE].stopping.set()
        await self._runner.cleanup()


async def start_sandbox(
    host: str = "127.0.0.1", port: int = 0, config: SandboxConfig | None = None
) -> SandboxHandle:
    """Start listening on ``host:port`` (0: any free port) in the running event loop."""
    app = create_sandbox_app(config)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    shown_host = f"[{host}]" if ":" in host else host
    return SandboxHandle(url=f"http://{shown_host}:{bound_port}", app=app, _runner=runner)


def run_sandbox(host: str, port: int, config: SandboxConfig | None = None) -> None:
    """Serve the sandbox until interrupted (blocking; ``accelerator sandbox``)."""

    def announce(*_: object) -> None:
        logger.info("sandbox insurers listening on http://%s:%d", host, port)
        for key, profile in INSURERS.items():
            logger.info("  /%s: %s (%s, %s)", key, profile.name, profile.style, profile.rating)

    web.run_app(
        create_sandbox_app(config),
        host=host,
        port=port,
        shutdown_timeout=5.0,
        print=announce,
        access_log=None,
    )


def default_sandbox_provider_settings(
    base_url: str,
    callback_url: str,
    secrets: Sequence[str],
    api_keys: Mapping[str, str] | None = None,
) -> dict[str, ProviderSettings]:
    """Provider settings for every sandbox insurer, keyed by provider id.

    ``base_url`` is the sandbox's URL; ``callback_url`` is the service's webhook base, to which
    each provider id is appended (``<callback_url>/meridian``); ``secrets`` are the callback
    secrets the service accepts (the sandbox signs with ``SandboxConfig.callback_secret``);
    ``api_keys`` must match the sandbox's ``SandboxConfig.api_keys`` (defaults agree).
    """
    keys = DEFAULT_API_KEYS if api_keys is None else api_keys
    base, callbacks = base_url.rstrip("/"), callback_url.rstrip("/")
    return {
        key: ProviderSettings(
            base_url=f"{base}/{key}",
            adapter=adapter,
            insurer_name=INSURERS[key].name,
            api_key=keys.get(key, ""),
            callback_secrets=list(secrets),
            callback_url=f"{callbacks}/{key}" if callbacks else "",
            appetite=appetite,
        )
        for key, (adapter, appetite) in _ADAPTERS.items()
    }


def canonical_sandbox_provider_settings(
    base_url: str,
    callback_url: str,
    secrets: Sequence[str],
    api_keys: Mapping[str, str] | None = None,
) -> dict[str, ProviderSettings]:
    """Provider settings for the sandbox's canonical-API insurer, ``keystone`` (adapter
    ``canonical``), with the appetite such a partner must be configured with.

    Kept apart from :func:`default_sandbox_provider_settings`, which configures the four
    insurers a new user gets by default. The arguments mean the same as there.
    """
    keys = DEFAULT_API_KEYS if api_keys is None else api_keys
    base, callbacks = base_url.rstrip("/"), callback_url.rstrip("/")
    return {
        "keystone": ProviderSettings(
            base_url=f"{base}/keystone",
            adapter="canonical",
            insurer_name=INSURERS["keystone"].name,
            api_key=keys.get("keystone", ""),
            callback_secrets=list(secrets),
            callback_url=f"{callbacks}/keystone" if callbacks else "",
            appetite=KEYSTONE_APPETITE,
        )
    }
