"""The ``accelerator`` command line: serve, migrate, manage API keys, run the sandbox insurers
and the inbox worker, purge what is past its retention."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
import msgspec

from accelerator.auth.principal import Role
from accelerator.settings import Settings, SettingsError, load_settings

# Only what every command needs is imported here: `keys create` is typed by hand and should
# answer at once. SQLAlchemy (the database and the keys), Alembic, Litestar, the audit trail
# and the adapters are imported by the commands that use them: `accelerator sandbox`, which
# `make run` and each of the test suite's drills start, opens no database, and loading
# SQLAlchemy cost it 0.2-0.3 s of CPU before it could answer (docs/performance.md).
if TYPE_CHECKING:
    from accelerator.infra.database import Database
    from accelerator.rulesets.loader import RuleBook
    from accelerator.server.services import Configured
    from providers import AdapterFactory, ProviderSettings
    from schemas import BrokenLink

T = TypeVar("T")
logger = logging.getLogger("accelerator.cli")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    from accelerator.infra.database import open_database

    async def run() -> T:
        db = open_database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            await _ensure_usable(db, _describe_database(settings.database_url))
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


async def _ensure_usable(db: Database, where: str) -> None:
    """Stop with one line when the database cannot be reached or was never migrated: a first
    `keys create` before the first `make run` ended in SQLAlchemy's 20-line "no such table"."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        async with db.write_engine.connect() as connection:
            await connection.execute(text("SELECT version_num FROM alembic_version"))
    except (OSError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if "alembic_version" in reason:  # reached, but no migration ever ran there
            raise click.ClickException(
                f"the database ({where}) has no tables yet: run `accelerator migrate` "
                "(`make run` and `accelerator serve` migrate as they start)"
            ) from exc
        raise click.ClickException(f"cannot use the database ({where}): {reason}") from exc


def _configured(settings: Settings) -> Configured:
    """What the settings name, loaded and checked (adapters, rule-set overrides, weights)."""
    from accelerator.server.services import configure

    try:
        return configure(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _configure_logging(level: str, *, json_logs: bool = False) -> None:
    """Logs written by a thread of their own (infra.logging), drained when the command ends:
    every line is out before the command returns, also to a caller that captured its output."""
    from accelerator.infra.logging import configure_logging

    writer = configure_logging(level, json_logs=json_logs)
    click.get_current_context().call_on_close(writer.flush)


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (every platform but Windows), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _check_tracing() -> None:
    """Stop with one line naming the ``OTEL_*`` variable the service cannot honour."""
    from accelerator.infra.tracing import TracingConfigError, exporters_wanted

    try:
        exporters_wanted(os.environ)
    except TracingConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _describe_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return parsed.render_as_string(hide_password=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="insurance-accelerator")
def main() -> None:
    """Insurance Accelerator: product-liability quote matching for marketplace sellers.

    Settings come from ACCELERATOR_* environment variables (see docs/configuration.md).
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes."
)
def serve(host: str, port: int, workers: int) -> None:
    """Run the API on uvicorn (uvloop + httptools): check the settings and the ports, migrate
    the database, then start."""
    import uvicorn

    settings = _settings()
    _configure_logging(settings.log_level, json_logs=settings.json_logs)
    configured = _configured(settings)
    _check_tracing()  # each worker process starts its own tracing (create_app)
    with_sandbox = settings.sandbox_enabled and (
        not configured.providers or settings.sandbox_with_providers
    )
    # Both ports before anything is migrated, printed or started: a port taken is found now,
    # not by uvicorn after the sandbox has started and the other service's URL was printed.
    _ensure_port_free(
        host, port, "the API", "choose another port with --port (make run PORT=<port>)"
    )
    if with_sandbox:
        _ensure_port_free(
            "127.0.0.1", settings.sandbox_port, "the sandbox insurers",
            "an earlier sandbox still running? Stop it or set ACCELERATOR_SANDBOX_PORT "
            "(make run SANDBOX_PORT=<port>)",
        )  # fmt: skip
    if settings.auto_migrate:
        from accelerator.infra import migrations

        migrations.upgrade(settings.database_url)
        logger.info("database migrated to %s", migrations.head_revision())
    logger.info("database: %s", _describe_database(settings.database_url))
    # How to reach the seller pages; a first start on SQLite also makes a demo seller key.
    from accelerator.web.first_start import pages_url, welcome

    url = pages_url(host, port)
    click.echo(_with_database(settings, lambda db: welcome(db, url, embedded=settings.is_sqlite)))
    with contextlib.ExitStack() as stack:
        if with_sandbox:
            stack.enter_context(_sandbox_for(settings, configured.providers, api_port=port))
        else:
            _log_insurers(configured.providers)
        logger.info(
            "API docs: http://%s:%d/schema  (OpenAPI JSON at /schema/openapi.json)", host, port
        )
        if settings.metrics_enabled and workers > 1:
            # Each worker process writes its metrics to files there; /metrics sums them.
            from accelerator.infra.metrics import prepare_multiprocess_dir, remove_multiprocess_dir

            if (metrics_dir := prepare_multiprocess_dir()) is not None:
                stack.callback(remove_multiprocess_dir, metrics_dir)
        # uvicorn re-raises SIGTERM once it has shut down; as SystemExit it unwinds this stack,
        # so the sandbox process is stopped too (the default action would kill us first).
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        uvicorn.run(
            "accelerator.server:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            log_config=None,
            access_log=False,
        )


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _ensure_port_free(host: str, port: int, whom: str, remedy: str) -> None:
    """Unless ``host:port`` can be listened on, stop with one line: why, and ``remedy``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    with socket.socket(family) as probe:
        # As uvicorn and aiohttp bind: a port in TIME_WAIT after the last run stopped is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} for {whom} ({exc.strerror}); {remedy}"
            ) from exc


def _log_insurers(providers: Mapping[str, ProviderSettings]) -> None:
    """Say once, in the serving process, which insurers each quote request will ask."""
    if not providers:
        logger.warning(
            "no insurers configured: quote requests get no offers (ACCELERATOR_PROVIDERS)"
        )
    for provider_id, partner in sorted(providers.items()):
        logger.info(
            "insurer %s: adapter %s at %s%s",
            provider_id,
            partner.adapter or provider_id,
            partner.base_url,
            "" if partner.enabled else " (disabled: never asked)",
        )


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Block until the sandbox accepts connections, so the first quotes do not miss it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(
                f"the sandbox insurers exited at start (code {process.returncode}); "
                f"is port {port} free? (ACCELERATOR_SANDBOX_PORT)"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise click.ClickException(f"the sandbox insurers did not listen on port {port} in time")


@contextlib.contextmanager
def _sandbox_for(
    settings: Settings, configured: Mapping[str, ProviderSettings], *, api_port: int
) -> Iterator[None]:
    """Run the sandbox insurers beside the API and point the adapters at them, and at the
    ``configured`` insurers too (a partner's own beside the sandbox's; its id wins a clash).

    The sandbox is its own process (so API workers never compete with it for the event loop);
    the provider settings reach the API workers through ACCELERATOR_PROVIDERS.
    """
    from providers.sandbox import default_sandbox_provider_settings

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    sandbox_url = f"http://127.0.0.1:{settings.sandbox_port}"
    callback_url = f"http://127.0.0.1:{api_port}/v1/webhooks/insurers"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable, "-m", "accelerator", "sandbox",
            "--port", str(settings.sandbox_port),
            "--callback-url", callback_url,
        ],
        env={**os.environ, "ACCELERATOR_SANDBOX_SECRET": secret},
    )  # fmt: skip
    try:
        _wait_until_listening(settings.sandbox_port, process, timeout=30)
    except BaseException:
        process.terminate()
        raise
    provider_map = {
        **default_sandbox_provider_settings(sandbox_url, callback_url, [secret]),
        **configured,
    }
    os.environ["ACCELERATOR_PROVIDERS"] = msgspec.json.encode(provider_map).decode()
    logger.info("sandbox insurers at %s", sandbox_url)
    _log_insurers(provider_map)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@click.option(
    "--callback-url",
    default="http://127.0.0.1:8000/v1/webhooks/insurers",
    show_default=True,
    help="Where the asynchronous insurer sends its signed callbacks (provider id appended).",
)
@click.option(
    "--secret",
    envvar="ACCELERATOR_SANDBOX_SECRET",
    default=None,
    help="whsec_ secret the callbacks are signed with (env ACCELERATOR_SANDBOX_SECRET).",
)
def sandbox(host: str, port: int, callback_url: str, secret: str | None) -> None:
    """Run the simulated insurers (faults switchable at /_control)."""
    from providers.sandbox import SandboxConfig, run_sandbox

    _configure_logging("INFO")
    signing_secret = secret or "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    if secret is None:
        click.echo(f"callbacks signed with {signing_secret}", err=True)
    run_sandbox(
        host, port, SandboxConfig(callback_url=callback_url, callback_secret=signing_secret)
    )


@main.command()
@click.option(
    "--lease-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1, 3600),
    help="How long a claimed delivery is ours; after that another worker may take it over.",
)
@click.option(
    "--batch-size", default=20, show_default=True, type=click.IntRange(1, 1000),
    help="Deliveries claimed at a time.",
)  # fmt: skip
@click.option(
    "--poll-interval", default=0.5, show_default=True, type=click.FloatRange(0.01, 60),
    help="Seconds between looks at an empty inbox.",
)  # fmt: skip
@click.option(
    "--until-idle", is_flag=True, help="Stop once nothing is due (else run until killed)."
)
def worker(lease_seconds: float, batch_size: int, poll_interval: float, until_idle: bool) -> None:
    """Apply stored insurer webhooks and send outbound notifications (PostgreSQL; run as many
    as you like, on any host).

    One process works both queues: the webhook inbox and the notifications' outbox
    (docs/notifications.md). Set ACCELERATOR_INBOX_WORKER=external on the API processes when
    these do the work. On SQLite the service's own in-process workers do both and this command
    refuses to start.
    """
    settings = _settings()
    _configure_logging(settings.log_level, json_logs=settings.json_logs)
    if settings.is_sqlite:
        raise click.ClickException(
            "on SQLite the service applies webhooks itself (one writer); "
            "`accelerator worker` needs ACCELERATOR_DATABASE_URL to name PostgreSQL"
        )
    _configured(settings)  # an unknown adapter: one line now, not a traceback from the worker
    _check_tracing()
    # uvloop, as `serve` runs the API: the delivery worker's time is mostly the event loop's
    # and aiohttp's, per delivery (docs/performance.md).
    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
        runner.run(_run_worker(settings, lease_seconds, batch_size, poll_interval, until_idle))


async def _run_worker(
    settings: Settings,
    lease_seconds: float,
    batch_size: int,
    poll_interval: float,
    until_idle: bool,
) -> None:
    import signal

    from accelerator.health.heartbeat import Heartbeat
    from accelerator.infra.database import open_database
    from accelerator.infra.metrics import metrics_for, process_stopped
    from accelerator.infra.tracing import start_tracing
    from accelerator.insurers.partners import close_partners, open_partners
    from accelerator.notifications.sender import Sender
    from accelerator.notifications.worker import DeliveryWorker
    from accelerator.webhooks.worker import InboxWorker

    tracing = start_tracing()  # a span per job when the OTEL_* variables ask for traces
    db = open_database(
        settings.database_url, tracing=tracing, sqlite_synchronous=settings.sqlite_synchronous
    )
    # Parsing events needs only the adapters; their settings are the service's own.
    partners = open_partners(
        _worker_provider_settings(settings),
        default_timeout_seconds=settings.insurer_timeout_seconds,
        tracing=tracing,
    )
    inbox = InboxWorker(
        db,
        partners,
        lease_seconds=lease_seconds,
        batch_size=batch_size,
        poll_interval_seconds=poll_interval,
    )
    # Its counters reach /metrics when it shares the API's PROMETHEUS_MULTIPROC_DIR (one host).
    metrics = metrics_for(settings.metrics_enabled)
    outbox = DeliveryWorker(
        db,
        Sender(allow_private=settings.notifications_allow_private_urls),
        owner=inbox.owner,
        lease_seconds=lease_seconds,
        poll_interval_seconds=poll_interval,
        metrics=metrics,
    )
    heartbeat = Heartbeat(
        db,
        inbox.owner,
        "worker",
        ["inbox-worker", "delivery-worker"],
        partners,
        settings.heartbeat_seconds,
        metrics,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    click.echo(
        f"worker {inbox.owner}: applying webhooks and sending notifications from "
        f"{_describe_database(settings.database_url)}",
        err=True,
    )
    try:
        if until_idle:
            applied = await inbox.run_until_idle()
            sent = await outbox.run_until_idle()
            click.echo(
                f"worker {inbox.owner}: idle after {applied} inbox deliveries "
                f"and {sent} notification attempts",
                err=True,
            )
        else:
            await asyncio.gather(inbox.run(stop), outbox.run(stop), heartbeat.run(stop))
    finally:
        await heartbeat.forget()
        await outbox.sender.close()
        await close_partners(partners)
        await db.dispose()
        process_stopped()
        if tracing is not None:
            tracing.shutdown()  # exports the spans still queued


def _worker_provider_settings(settings: Settings) -> dict[str, ProviderSettings]:
    from accelerator.insurers.partners import provider_settings
    from providers.sandbox import default_sandbox_provider_settings

    configured = provider_settings(settings.providers)
    if not settings.sandbox_enabled or (configured and not settings.sandbox_with_providers):
        return configured
    # `accelerator serve` uses the sandbox's insurers then (beside the configured): same adapters.
    sandbox_url = f"http://127.0.0.1:{settings.sandbox_port}"
    return {**default_sandbox_provider_settings(sandbox_url, "", []), **configured}


@main.command()
@click.option("--check", is_flag=True, help="Only verify the models match the migrations.")
def migrate(check: bool) -> None:
    """Apply database migrations (or, with --check, compare models and migrations)."""
    from accelerator.infra import migrations

    settings = _settings()
    where = _describe_database(settings.database_url)
    if check:
        try:
            migrations.check(settings.database_url)
        except Exception as exc:  # alembic raises its own CommandError subclasses and others
            raise click.ClickException(f"models and migrations disagree: {exc}") from exc
        click.echo(f"models and migrations agree ({where})")
        return
    migrations.upgrade(settings.database_url)
    click.echo(f"migrated {where} to {migrations.head_revision()}")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), required=True, help="What the key may do."
)
@click.option(
    "--seller-id",
    default=None,
    help="The seller a seller key acts for (required with --role seller).",
)
@click.option(
    "--provider",
    "provider_id",
    default=None,
    help="The insurer (its provider id) a partner key reads for (required with --role partner).",
)
@click.option("--name", default="", help="A label to recognise the key by.")
def keys_create(role: str, seller_id: str | None, provider_id: str | None, name: str) -> None:
    """Issue a key and print it once; only its digest is stored."""
    from accelerator.auth.keys import KeyRequestError, check_key_request, create_key

    try:
        # Before the database is opened: a request that cannot be honoured says so first.
        check_key_request(Role(role), seller_id=seller_id, provider_id=provider_id)
    except KeyRequestError as exc:
        raise click.UsageError(str(exc)) from exc
    settings = _settings()
    try:
        issued = _with_database(
            settings,
            lambda db: create_key(
                db, Role(role), seller_id=seller_id, provider_id=provider_id, name=name
            ),
        )
    except KeyRequestError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(issued.secret)
    click.echo(
        f"id {issued.id}  role {issued.role.value}"
        + (f"  seller {issued.seller_id}" if issued.seller_id else "")
        + (f"  provider {issued.provider_id}" if issued.provider_id else "")
        + "  (shown once: store it now)",
        err=True,
    )
    # With no insurers configured and the sandbox enabled, the sandbox's insurers serve: say
    # nothing then (naming them would load the sandbox, which issuing a key should not).
    known = settings.providers or not settings.sandbox_enabled
    if provider_id and known and provider_id not in settings.providers:
        # Keys outlive configuration, so this is allowed; but a typo would go unnoticed.
        click.echo(
            f"note: no insurer {provider_id!r} is configured here now; the key reads its "
            "deliveries and quote calls once it is",
            err=True,
        )


@keys.command("list")
def keys_list() -> None:
    """List keys (prefix, role, seller or provider, state); secrets are never shown."""
    from accelerator.auth.keys import list_keys

    rows = _with_database(_settings(), list_keys)
    if not rows:
        click.echo("no keys")
        return
    header = f"{'ID':36}  {'PREFIX':12}  {'ROLE':7}  {'SELLER/PROVIDER':16}  {'STATE':8}  NAME"
    click.echo(header)
    for k in rows:
        state = "revoked" if k.revoked_at else "active"
        bound = k.seller_id or k.provider_id or "-"
        click.echo(f"{k.id:36}  {k.prefix:12}  {k.role.value:7}  {bound:16}  {state:8}  {k.name}")


@keys.command("revoke")
@click.argument("key")
def keys_revoke(key: str) -> None:
    """Revoke KEY (its id or prefix); it stops working at once."""
    from accelerator.auth.keys import revoke_key

    info = _with_database(_settings(), lambda db: revoke_key(db, key))
    if info is None:
        click.echo(f"no single key matches {key!r}", err=True)
        sys.exit(1)
    click.echo(f"revoked {info.id} ({info.prefix}, {info.role.value})")


@main.group()
def retention() -> None:
    """Purge captures, webhook bodies and the audit trail past their retention."""


@retention.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be purged; change nothing.")
def retention_purge(dry_run: bool) -> None:
    """Purge what is past its retention (docs/retention.md).

    Insurer captures lose their headers and bodies, applied webhook deliveries their body and
    headers, after ACCELERATOR_CAPTURE_RETENTION_DAYS; receipts (with their marks) and policy
    events (with policies left without events) go after ACCELERATOR_AUDIT_RETENTION_DAYS, from
    the start of each seller's chain, leaving an anchor. The running service does this on its
    own at most once an hour.
    """
    from accelerator.audit.retention import RetentionService

    settings = _settings()
    _configure_logging(settings.log_level, json_logs=settings.json_logs)
    captures = timedelta(days=settings.capture_retention_days)
    audit = timedelta(days=settings.audit_retention_days)
    report = _with_database(
        settings,
        lambda db: RetentionService(db, captures, audit).purge(datetime.now(UTC), dry_run=dry_run),
    )
    click.echo(report.describe())


@main.group()
def audit() -> None:
    """Check the audit trail (docs/audit.md)."""


@audit.command("verify")
@click.option("--seller", "seller_id", default=None, help="Verify only this seller's chains.")
@click.option(
    "--page-size",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    callback=lambda _ctx, _param, value: _at_most_a_page(value),
    help="Sellers verified at a time; progress goes to stderr after each page.",
)
def audit_verify(seller_id: str | None, page_size: int) -> None:
    """Verify the hash chains of policy events and decision receipts.

    For each seller (or only --seller), walks its chain of policy events and its chain of
    decision receipts in position order: positions 1, 2, … without gaps, each row linked to
    the hash of the row before it, each hash recomputed from the row's content, a receipt's
    columns agreeing with its document, and the chain's head at its last row. Prints the
    first broken link of each broken chain with its problem code (docs/audit.md#tamper-evidence
    explains each). Exits 0 when every chain is intact, 1 when a link is broken.
    """
    settings = _settings()
    where = _describe_database(settings.database_url)
    sellers, rows, broken = _with_database(
        settings, lambda db: _verify_chains(db, seller_id, page_size)
    )
    summary = f"checked {_count(sellers, 'seller')}, {_count(rows, 'row')} in {where}"
    if not broken:
        click.echo(f"{summary}: every chain intact")
        return
    click.echo(f"{summary}: {_count(broken, 'broken chain')}")
    sys.exit(1)


def _at_most_a_page(page_size: int) -> int:
    from accelerator.audit.verify import MAX_SELLERS_PER_PAGE

    if page_size > MAX_SELLERS_PER_PAGE:
        raise click.BadParameter(f"{page_size} is more than {MAX_SELLERS_PER_PAGE}")
    return page_size


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


async def _verify_chains(
    db: Database, seller_id: str | None, page_size: int
) -> tuple[int, int, int]:
    """The sellers and rows verified and the chains found broken, each broken link printed as
    it is found (a page of sellers at a time, so memory stays bounded)."""
    from accelerator.audit.verify import ChainVerifier

    verifier = ChainVerifier(db)
    if seller_id is not None:
        checked = await verifier.verify_seller(seller_id)
        _print_broken(checked.broken)
        return checked.sellers_checked, checked.rows_checked, len(checked.broken)
    sellers = rows = broken = 0
    after: str | None = None
    while True:
        page = await verifier.verify_page(after=after, limit=page_size)
        _print_broken(page.broken)
        sellers += page.sellers_checked
        rows += page.rows_checked
        broken += len(page.broken)
        after = page.next_after
        if after is None:
            return sellers, rows, broken
        click.echo(
            f"… {_count(sellers, 'seller')}, {_count(rows, 'row')} verified, "
            f"{_count(broken, 'broken chain')} so far",
            err=True,
        )


def _print_broken(links: list[BrokenLink]) -> None:
    for found in links:
        click.echo(f"BROKEN [{found.problem}] {found.message}")


@main.group()
def partners() -> None:
    """Insurer partners: check an adapter against its scenarios and a partner's test API."""


@partners.command("check")
@click.argument("provider")
@click.option(
    "--fixtures",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Scenario directory (exemplary/, supplemental/); default: the adapter's own.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Also quote through the partner's test environment (its configured base_url, api_key).",
)
@click.option(
    "--bind",
    "bind_offer",
    is_flag=True,
    help="With --live: bind an offer, twice under one Idempotency-Key and once under another. "
    "Makes a policy in the partner's test environment.",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1, 600),
    help="Seconds for each live call, polling included.",
)
def partners_check(
    provider: str, fixtures: Path | None, live: bool, bind_offer: bool, timeout: float
) -> None:
    """Run PROVIDER's adapter against its fixture scenarios, and with --live against the
    partner's test environment; print what passed and what did not. Exits 1 if anything failed.

    PROVIDER is a configured insurer's id (ACCELERATOR_PROVIDERS; with none configured, the
    sandbox insurers harbor, summit, meridian and acorn) or an installed adapter's name.
    """
    from providers import available_adapters, check_scenario, fixture_directory, scenario_files

    if bind_offer and not live:
        raise click.UsageError("--bind needs --live")
    settings = _settings()
    rulebook = _configured(settings).rulebook
    configured = _worker_provider_settings(settings)
    adapters = available_adapters()
    provider_settings = configured.get(provider)
    adapter_name = (provider_settings.adapter if provider_settings else None) or provider
    factory = adapters.get(adapter_name)
    if factory is None:
        raise click.ClickException(
            f"no insurer or adapter named {provider!r} (configured insurers: "
            f"{', '.join(sorted(configured)) or 'none'}; installed adapters: "
            f"{', '.join(sorted(adapters))})"
        )
    directory = fixtures or fixture_directory(adapter_name, factory)
    if directory is None:
        raise click.ClickException(
            f"adapter {adapter_name!r} ships no scenarios (no fixtures/ beside its module); "
            "pass --fixtures DIR"
        )
    files = scenario_files(directory)
    if not files:
        raise click.ClickException(
            f"no scenarios in {directory} (expected exemplary/*.json and supplemental/*.json)"
        )
    if live and provider_settings is None:
        raise click.ClickException(
            f"--live needs {provider!r} configured as an insurer (base_url, api_key) in "
            "ACCELERATOR_PROVIDERS; see docs/partners.md"
        )

    click.echo(f"{provider}: adapter {adapter_name} ({factory.__module__})")
    click.echo(f"scenarios in {directory}")
    failed = 0
    for path in files:
        result = check_scenario(path, factory, adapter_name, root=directory)
        failed += not result.passed
        _print_check(result.passed, result.scenario, result.problem)
    passed = len(files) - failed
    if live and provider_settings is not None:
        live_passed, live_failed = _check_live(
            provider, provider_settings, factory, files, rulebook, bind_offer, timeout
        )
        passed, failed = passed + live_passed, failed + live_failed
    click.echo(f"{passed} passed, {failed} failed")
    if failed:
        sys.exit(1)


def _check_live(
    provider: str,
    settings: ProviderSettings,
    factory: AdapterFactory,
    files: list[Path],
    rulebook: RuleBook,
    bind_offer: bool,
    timeout: float,
) -> tuple[int, int]:
    """The live checks against the partner's test environment, printed; (passed, failed)."""
    from accelerator.insurers.conformance import check_live, live_request
    from schemas import QuoteRequest

    now = datetime.now(UTC)
    # The exemplary scenarios' sellers are the ones the adapter is known to quote.
    requests = [
        live_request(
            msgspec.convert(json.loads(path.read_text())["request"], QuoteRequest), rulebook, now
        )
        for path in files
        if path.parent.name == "exemplary"
    ]
    click.echo(f"live, against {settings.base_url}")
    checks = asyncio.run(
        check_live(
            factory(provider, settings),
            settings,
            requests,
            bind=bind_offer,
            timeout_seconds=timeout,
            on_check=lambda check: _print_check(
                check.passed, check.name, check.problem or check.detail
            ),
        )
    )
    failed = sum(not check.passed for check in checks)
    return len(checks) - failed, failed


def _print_check(passed: bool, name: str, note: str) -> None:
    mark = "passed" if passed else "FAILED"
    click.echo(f"  {mark}  {name}" + (f": {note}" if note else ""))
