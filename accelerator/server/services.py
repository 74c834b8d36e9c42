"""The running service's objects: opened by the lifespan, closed at shutdown.

Handlers receive them as Litestar dependencies (``server.app``), never by looking them up, so
each handler's signature says what it uses, and domain code never sees the application state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from accelerator.audit.affected import AffectedSweep
from accelerator.audit.decisions import DecisionService
from accelerator.audit.export import AuditExportService
from accelerator.audit.receipts import ReceiptWriter
from accelerator.audit.retention import RetentionService
from accelerator.audit.verify import ChainVerifier
from accelerator.auth.cache import KeyCache
from accelerator.binding.reconcile import BindReconciler
from accelerator.binding.service import BindingService
from accelerator.certificates.service import CertificateService
from accelerator.compliance.announce import ComplianceAnnouncer
from accelerator.compliance.service import ComplianceService
from accelerator.coverage.admin import PolicyAdminService
from accelerator.coverage.linking import InsurerDirectory
from accelerator.coverage.service import CoverageService
from accelerator.health.backlog import BacklogSnapshot
from accelerator.health.heartbeat import Heartbeat
from accelerator.health.status import StatusService
from accelerator.infra.database import Database, open_database
from accelerator.infra.metrics import Metrics, metrics_for
from accelerator.insurers.partners import (
    Partner,
    check_appetite,
    close_partners,
    open_partners,
    provider_settings,
)
from accelerator.insurers.plugins import use_plugin_paths
from accelerator.notifications.outbox import wake_on_emit
from accelerator.notifications.sender import Sender
from accelerator.notifications.service import NotificationService
from accelerator.notifications.sweep import ReminderSweep
from accelerator.notifications.worker import DeliveryWorker
from accelerator.quoting.fanout import FanOutPolicy
from accelerator.quoting.runner import QuoteRunner
from accelerator.quoting.service import QuotingService
from accelerator.ranking.score import RankingStrategy, RankingWeights, WeightedScore
from accelerator.renewals.service import RenewalService
from accelerator.renewals.sweep import RenewalSweep
from accelerator.risk.taxonomy import Taxonomy, load_taxonomy
from accelerator.rulesets.loader import RuleBook, RuleSetOverrideError, load_rulesets
from accelerator.sellers.service import SellerService
from accelerator.settings import Settings, invalid_setting
from accelerator.webhooks.service import WebhookService
from accelerator.webhooks.turns import ReceivesFirst
from accelerator.webhooks.worker import InboxWorker
from providers import InvalidAdapter, ProviderSettings, UnknownAdapter, build_adapters

if TYPE_CHECKING:
    from accelerator.infra.tracing import Tracing


@dataclass(frozen=True)
class Configured:
    """What is loaded (and validated) once when the app is built: a bad file stops it there."""

    settings: Settings
    rulebook: RuleBook
    taxonomy: Taxonomy
    ranking: RankingStrategy
    providers: Mapping[str, ProviderSettings]


def configure(settings: Settings) -> Configured:
    """Load what the settings name: rule sets, ranking weights, insurers and their adapters.

    Raises SettingsError, one line naming the setting, for a value that would only fail later
    (an unknown adapter in each worker's lifespan, as a traceback): ``accelerator serve`` calls
    this before it migrates or starts anything.
    """
    try:
        rulebook = load_rulesets(settings.ruleset_overrides)
    except RuleSetOverrideError as exc:
        raise invalid_setting("ruleset_overrides", exc) from exc
    try:
        # Converted, not called: only conversion checks each weight's bounds (NaN, negative).
        weights = msgspec.convert(settings.ranking_weights, RankingWeights)
        ranking = WeightedScore(weights)
    except (TypeError, ValueError, msgspec.ValidationError) as exc:
        raise invalid_setting("ranking_weights", exc) from exc
    use_plugin_paths(settings.plugin_paths)  # before any adapter is looked up
    taxonomy = load_taxonomy()
    try:
        providers = provider_settings(settings.providers)
        # Built only to find out now that each one can be, with an appetite that can match.
        for provider_id, adapter in build_adapters(providers).items():
            check_appetite(provider_id, adapter.appetite, taxonomy)
    except (ValueError, UnknownAdapter, InvalidAdapter) as exc:
        raise invalid_setting("providers", exc) from exc
    return Configured(
        settings=settings,
        rulebook=rulebook,
        taxonomy=taxonomy,
        ranking=ranking,
        providers=providers,
    )


@dataclass(frozen=True)
class Services:
    """Everything a request may need, opened for one run of the app."""

    configured: Configured
    db: Database
    partners: Mapping[str, Partner]
    runner: QuoteRunner
    sellers: SellerService
    quoting: QuotingService
    coverage: CoverageService
    certificates: CertificateService
    decisions: DecisionService
    affected: AffectedSweep
    policy_admin: PolicyAdminService
    compliance: ComplianceService
    binding: BindingService
    bind_reconciler: BindReconciler
    webhooks: WebhookService
    inbox_worker: InboxWorker
    notifications: NotificationService
    delivery_worker: DeliveryWorker
    reminders: ReminderSweep
    renewal_sweep: RenewalSweep
    renewals: RenewalService
    audit_export: AuditExportService
    retention: RetentionService
    chain_verifier: ChainVerifier
    keys: KeyCache
    # Operations (docs/operations.md): what is recorded, this process's heartbeat, the
    # periodic backlog count, and GET /health/status.
    metrics: Metrics
    heartbeat: Heartbeat
    backlog: BacklogSnapshot
    status: StatusService

    @property
    def in_process_worker(self) -> bool:
        return self.configured.settings.inbox_worker == "in_process"

    async def close(self) -> None:
        await self.runner.close()
        await self.webhooks.close()
        await self.delivery_worker.sender.close()
        await close_partners(self.partners)
        await self.db.dispose()


def open_services(
    configured: Configured,
    *,
    insurer_transport: httpx.AsyncBaseTransport | None = None,
    tracing: Tracing | None = None,
) -> Services:
    settings = configured.settings
    metrics = metrics_for(settings.metrics_enabled)
    db = open_database(
        settings.database_url, tracing=tracing, sqlite_synchronous=settings.sqlite_synchronous
    )
    partners = open_partners(
        configured.providers,
        default_timeout_seconds=settings.insurer_timeout_seconds,
        transport=insurer_transport,
        tracing=tracing,
    )
    runner = QuoteRunner(
        db,
        partners,
        FanOutPolicy(
            deadline_seconds=settings.quote_deadline_seconds,
            insurer_timeout_seconds=settings.insurer_timeout_seconds,
        ),
        metrics,
    )
    sellers = SellerService(db, configured.rulebook, configured.taxonomy)
    insurers = InsurerDirectory.of(
        {provider_id: partner.adapter.insurer_name for provider_id, partner in partners.items()}
    )
    # This process's worker takes turns with its receives (accelerator.webhooks.turns).
    turns = ReceivesFirst(one_writer=db.is_sqlite)
    inbox_worker = InboxWorker(
        db, partners, lease_seconds=settings.inbox_lease_seconds, turns=turns
    )
    # A stored delivery wakes this process's worker at once, if it runs one.
    in_process = settings.inbox_worker == "in_process"
    webhooks = (
        WebhookService(db, partners, on_stored=inbox_worker.wake, turns=turns, metrics=metrics)
        if in_process
        else WebhookService(db, partners, turns=turns, metrics=metrics)
    )
    # Outbound notifications: sent by this process's worker when it runs the inbox's too.
    delivery_worker = DeliveryWorker(
        db,
        Sender(allow_private=settings.notifications_allow_private_urls),
        owner=inbox_worker.owner,
        metrics=metrics,
    )
    notifications = NotificationService(
        db,
        allow_private_urls=settings.notifications_allow_private_urls,
        on_replay=delivery_worker.wake if in_process else _no_worker,
    )
    if in_process:
        # A committed event is sent at once, not at the worker's next poll.
        wake_on_emit(db, delivery_worker.wake)
    compliance = ComplianceService(db, sellers, configured.rulebook)
    abandoned_binds = timedelta(seconds=settings.bind_abandoned_after_seconds)
    coverage = CoverageService(
        db, configured.rulebook, configured.taxonomy, ReceiptWriter(db), insurers, metrics
    )
    backlog = BacklogSnapshot(
        [webhooks.inbox.backlog, delivery_worker.repository.backlog], metrics=metrics
    )
    quoting = QuotingService(
        db,
        sellers,
        runner,
        configured.rulebook,
        configured.ranking,
        default_deadline_seconds=settings.quote_deadline_seconds,
        max_deadline_seconds=settings.quote_deadline_max_seconds,
    )
    return Services(
        configured=configured,
        db=db,
        partners=partners,
        runner=runner,
        sellers=sellers,
        quoting=quoting,
        coverage=coverage,
        certificates=CertificateService(db, configured.rulebook, coverage, settings.public_url),
        decisions=DecisionService(db, coverage),
        affected=AffectedSweep(db, coverage, compliance=ComplianceAnnouncer(compliance)),
        policy_admin=PolicyAdminService(db, configured.rulebook, insurers),
        compliance=compliance,
        binding=BindingService(
            db,
            partners,
            configured.rulebook,
            settings.additional_insured_name,
            abandoned_after=abandoned_binds,
        ),
        bind_reconciler=BindReconciler(
            db,
            partners,
            configured.rulebook,
            settings.additional_insured_name,
            abandoned_after=abandoned_binds,
        ),
        webhooks=webhooks,
        inbox_worker=inbox_worker,
        notifications=notifications,
        delivery_worker=delivery_worker,
        reminders=ReminderSweep(db, sellers, configured.rulebook),
        renewal_sweep=RenewalSweep(db, sellers, quoting, configured.rulebook),
        renewals=RenewalService(coverage, quoting, sellers, configured.rulebook),
        audit_export=AuditExportService(db),
        retention=RetentionService(
            db,
            timedelta(days=settings.capture_retention_days),
            timedelta(days=settings.audit_retention_days),
        ),
        chain_verifier=ChainVerifier(db),
        keys=KeyCache(db),
        metrics=metrics,
        heartbeat=Heartbeat(
            db,
            # The name this process's inbox and outbox leases carry.
            inbox_worker.owner,
            "api",
            ["api", "inbox-worker", "delivery-worker"] if in_process else ["api"],
            partners,
            settings.heartbeat_seconds,
            metrics,
        ),
        backlog=backlog,
        status=StatusService(db, backlog),
    )


def _no_worker() -> None:
    """Nothing to wake: `accelerator worker` processes send notifications."""


class Runtime:
    """The services of the app's current run: set by the lifespan, read by the dependencies
    and the middleware (which exist before the services do)."""

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the service has not started (or has stopped)")
        return self._services

    def replace(self, **changes: Any) -> None:
        """Swap some services of the running app (a test's clock, say)."""
        self._services = dataclasses.replace(self.services, **changes)

    def start(self, services: Services) -> None:
        self._services = services

    def stop(self) -> None:
        self._services = None
