"""Service settings: ``ACCELERATOR_*`` environment variables over an optional TOML file.

Precedence, highest first: environment, the TOML file named by ``ACCELERATOR_CONFIG_FILE``,
the defaults below. Every setting is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args, get_origin, get_type_hints

import msgspec

ENV_PREFIX = "ACCELERATOR_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.accelerator/accelerator.db"
#: On SQLite, whether a commit waits for the disk (``Settings.sqlite_synchronous``).
SqliteSynchronous = Literal["normal", "full"]


# Durations are finite and at most a day: "inf" parses as a float greater than 0, and a worker's
# `now + timedelta(seconds=inf)` then failed every claim while the service looked healthy.
Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]
# Retention periods up to a century (a larger count overflows the purge's date arithmetic).
Days = Annotated[int, msgspec.Meta(gt=0, le=36_500)]


class SettingsError(ValueError):
    """A setting could not be read; the message names the setting and its source."""


class Settings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Everything the service reads from its environment."""

    database_url: str = DEFAULT_DATABASE_URL
    # On SQLite, whether a commit waits for the disk: "normal" survives the service's crash but
    # may lose the last commits to a power loss; "full" survives both, an fsync per commit
    # (docs/operations.md "Durability"). PostgreSQL keeps its own (synchronous_commit).
    sqlite_synchronous: SqliteSynchronous = "normal"
    bootstrap_admin_key: str | None = None
    auto_migrate: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_logs: bool = False
    public_url: str = "http://127.0.0.1:8000"
    # Quoting: one overall deadline per request, capped; each insurer call has its own timeout.
    quote_deadline_seconds: Seconds = 10.0
    quote_deadline_max_seconds: Seconds = 30.0
    insurer_timeout_seconds: Seconds = 8.0
    # How often each API process sweeps for work a dead process left (quote requests still
    # collecting, binds still binding).
    sweep_interval_seconds: Seconds = 5.0
    # How often each API process looks for reminders due (policy.expiring, compliance.deadline;
    # one process sweeps at a time, docs/notifications.md).
    reminder_sweep_seconds: Seconds = 60.0
    # A bind still `binding` this long after it was claimed is taken for one whose process died,
    # and sent again. Keep it above the bind timeout (20 s) plus a margin; lower only where no
    # live bind can be under way (the crash drill).
    bind_abandoned_after_seconds: Seconds = 30.0
    # Captured insurer exchanges and the bodies of applied webhook deliveries are purged this
    # many days after they were captured (applied) (docs/retention.md).
    capture_retention_days: Days = 90
    # Decision receipts (with their marks) and policy events are kept this many days (7 years),
    # then purged from the start of each seller's chain (docs/retention.md). At least
    # capture_retention_days.
    audit_retention_days: Days = 2557
    # The operator entity sellers must name as additional insured when binding.
    additional_insured_name: str = "Amazon.com Services LLC"
    # Offer ranking weights (cost, deductible, rating, firmness); see docs/ranking.md.
    ranking_weights: dict[str, float] = msgspec.field(default_factory=dict)
    # Ruleset figures that public sources disagree on, e.g. {"UK.min_per_occurrence": "2000000"}.
    ruleset_overrides: dict[str, str] = msgspec.field(default_factory=dict)
    # Per-insurer settings keyed by provider id (base_url, secrets, timeout, enabled).
    providers: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    # Who applies stored webhook deliveries: a worker inside each API process ("in_process"), or
    # only separate `accelerator worker` processes ("external", PostgreSQL, several hosts).
    inbox_worker: Literal["in_process", "external"] = "in_process"
    # How long the in-process inbox worker holds the deliveries it claims: those of a process
    # that died are applied by another once it runs out (`accelerator worker --lease-seconds`
    # is the external workers' own). Shorter only where a crash is waited out on purpose.
    inbox_lease_seconds: Seconds = 60.0
    # Outbound notifications (docs/notifications.md): allow subscriber URLs over http and to
    # loopback or private addresses. Local development and tests only: it opens the service to
    # server-side request forgery.
    notifications_allow_private_urls: bool = False
    # Run the sandbox insurers inside `accelerator serve` and point the adapters at it: when no
    # insurer is configured, or beside the configured ones with sandbox_with_providers.
    sandbox_enabled: bool = True
    sandbox_with_providers: bool = False
    sandbox_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8765
    # Prometheus metrics at /metrics (docs/operations.md#metrics); off: no /metrics, nothing
    # recorded.
    metrics_enabled: bool = True
    # How often each API process and each `accelerator worker` writes its heartbeat row; one
    # older than three of these is reported stale by GET /health/status.
    heartbeat_seconds: Seconds = 10.0
    # How often each API process counts the webhook inbox and the notification outbox (the
    # backlog gauges and GET /health/status read the latest count).
    backlog_snapshot_seconds: Seconds = 15.0
    # Directories of plugin distributions (adapters installed with `pip install --target DIR`),
    # added to sys.path before adapters are looked up: outside .venv, so `uv sync` keeps them.
    plugin_paths: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.audit_retention_days < self.capture_retention_days:
            raise ValueError(
                f"audit_retention_days ({self.audit_retention_days}) must be at least "
                f"capture_retention_days ({self.capture_retention_days})"
            )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = set(Settings.__struct_fields__)
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in fields:
            continue  # ACCELERATOR_CONFIG_FILE, ACCELERATOR_TEST_* and friends are not settings
        # Structured settings travel as JSON in one variable; scalars as plain strings.
        if name in {"providers", "ruleset_overrides", "ranking_weights"}:
            try:
                values[name] = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                raise SettingsError(f"{key} is not valid JSON: {exc}") from exc
        elif name == "plugin_paths":
            values[name] = _path_list(key, raw)
        else:
            values[name] = raw
    return values


def _path_list(key: str, raw: str) -> list[str]:
    # Like PATH (separated by os.pathsep), or a JSON array like the other structured settings.
    if raw.lstrip().startswith("["):
        try:
            return list(msgspec.json.decode(raw, type=list[str]))
        except msgspec.DecodeError as exc:  # ValidationError included: a list of strings only
            raise SettingsError(f"{key} is not a JSON array of paths: {exc}") from exc
    return [part for part in raw.split(os.pathsep) if part.strip()]


#: Each setting's type, for the choices of one that takes a few named values.
_FIELD_TYPES: Final = {
    name: hint for name, hint in get_type_hints(Settings).items() if get_origin(hint) is Literal
}


def _invalid(exc: msgspec.ValidationError) -> SettingsError:
    # msgspec ends its message with the path, " - at `$.quote_deadline_seconds`": name the
    # setting first, the way it is set, so the one line says what to change.
    problem, _, path = str(exc).partition(" - at `$.")
    if not path:  # a rule across settings, or an unknown key in the file: named in the problem
        return SettingsError(f"invalid setting: {problem}")
    path = path.rstrip("`")
    # "Invalid enum value 'FULL'" alone leaves the reader to guess the spelling wanted.
    choices = get_args(_FIELD_TYPES.get(path))
    if problem.startswith("Invalid enum value") and choices:
        problem = f"{problem}; one of: {', '.join(map(str, choices))}"
    return invalid_setting(path, problem)


def invalid_setting(path: str, problem: object) -> SettingsError:
    """The one-line error for a setting (``path`` may go inside it: ``providers.harbor``), named
    as the TOML key and as the environment variable, so it says what to change either way."""
    name = re.split(r"[.\[]", path, maxsplit=1)[0]
    return SettingsError(f"invalid setting {path} ({ENV_PREFIX}{name.upper()}): {problem}")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment (and its config file); raise SettingsError if invalid."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = env.get(f"{ENV_PREFIX}CONFIG_FILE")
    if config_file:
        try:
            values.update(tomllib.loads(Path(config_file).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{config_file}: {exc}") from exc
    values.update(_from_environment(env))
    values.update(overrides)
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise _invalid(exc) from exc
