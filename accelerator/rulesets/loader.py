"""Load the shipped marketplace rule sets, validate them, and apply configured overrides.

Overrides
---------
``load_rulesets(overrides=...)`` takes a mapping from a key to a new value. Keys are

* ``"<MARKETPLACE>.<figure>"`` — the figure in every version of that marketplace's rule set,
  e.g. ``"UK.min_per_occurrence"``;
* ``"<MARKETPLACE>@<version>.<figure>"`` — the figure in one version only,
  e.g. ``"DE@eu-2024-05-29.min_aggregate"``.

Figures (see :data:`OVERRIDABLE`): ``trigger_threshold``, ``compliance_days``,
``min_per_occurrence``, ``min_aggregate``, ``max_deductible``, ``additional_insured_name``,
``min_insurer_rating``, ``notice_days``, ``min_remaining_term_days``, ``small_claim_threshold``.
Values may be strings (as they come from environment settings) or numbers; amounts are in the
rule set's currency. A key or value that does not fit raises :class:`RuleSetOverrideError`.
Overridden figures are listed in ``RuleSetVersion.overridden`` so decisions can show them.
"""

import functools
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from accelerator.rulesets.model import (
    RULE_NAMES,
    AmBestRating,
    Amount,
    Days,
    RuleSetFile,
    RuleSetVersion,
)
from accelerator.rulesets.zones import local_date

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
_PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]

#: Overridable figure -> (rule attribute, field inside the rule, type the value must convert to).
OVERRIDABLE: Final[Mapping[str, tuple[str, str, Any]]] = {
    "trigger_threshold": ("trigger", "threshold", Amount),
    "compliance_days": ("compliance", "days", Days),
    "min_per_occurrence": ("limits", "min_per_occurrence", Amount),
    "min_aggregate": ("limits", "min_aggregate", Amount),
    "max_deductible": ("deductible", "max_deductible", Amount),
    "additional_insured_name": ("additional_insured", "entity_name", str),
    "min_insurer_rating": ("insurer_rating", "minimum", AmBestRating),
    "notice_days": ("notice", "days", Days),
    "min_remaining_term_days": ("proof", "min_remaining_term_days", Days),
    "small_claim_threshold": ("small_claims", "threshold", Amount),
}
_OVERRIDE_KEY: Final = re.compile(
    r"^(?P<marketplace>[A-Z]{2})(?:@(?P<version>[A-Za-z0-9._-]+))?\.(?P<figure>[a-z_]+)$"
)


class RuleSetError(Exception):
    """Base of every rule-set error."""


class RuleSetFileError(RuleSetError):
    """A data file is not valid TOML or does not match the rule-set schema.

    The message names the file and the JSON path of the offending field.
    """

    def __init__(self, path: str, problem: str, field: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.field = field
        where = f" - at `{field}`" if field else ""
        super().__init__(f"{path}: {problem}{where}")


class RuleSetOverrideError(RuleSetError):
    """An override key or value does not fit the rule sets."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"rule-set override {key!r}: {problem}")


class UnknownMarketplaceError(RuleSetError, LookupError):
    """No rule set is shipped for this marketplace."""

    def __init__(self, marketplace: str, known: tuple[str, ...]) -> None:
        self.marketplace = marketplace
        self.known = known
        super().__init__(f"unknown marketplace {marketplace!r}; known: {', '.join(known)}")


class NoRuleSetVersionError(RuleSetError, LookupError):
    """The marketplace has a rule set, but no version of it is in force on that day."""

    def __init__(self, marketplace: str, day: date) -> None:
        self.marketplace = marketplace
        self.day = day
        super().__init__(f"no {marketplace} rule-set version is in force on {day.isoformat()}")


@dataclass(frozen=True)
class RuleBook:
    """Every marketplace's rule-set versions, oldest first. Immutable."""

    _versions: Mapping[str, tuple[RuleSetVersion, ...]]

    def marketplaces(self) -> tuple[str, ...]:
        """Marketplace codes with a rule set, sorted."""
        return tuple(sorted(self._versions))

    def has(self, marketplace: str) -> bool:
        """True when a rule set is shipped for ``marketplace``."""
        return marketplace in self._versions

    def versions(self, marketplace: str) -> tuple[RuleSetVersion, ...]:
        """All versions for ``marketplace``, oldest first; raises UnknownMarketplaceError."""
        try:
            return self._versions[marketplace]
        except KeyError:
            raise UnknownMarketplaceError(marketplace, self.marketplaces()) from None

    def currency_of(self, marketplace: str) -> str:
        """The currency in which ``marketplace``'s rules are stated."""
        return self.versions(marketplace)[0].currency

    def timezone(self, marketplace: str) -> str:
        """``marketplace``'s reference time zone, the one its policy dates are read in. It is
        stated once per marketplace in its rule-set file, so every version has the same.
        Raises UnknownMarketplaceError."""
        return self.versions(marketplace)[0].reference_timezone

    def local_date(self, marketplace: str, instant: datetime) -> date:
        """The calendar date at ``instant`` in ``marketplace``'s reference time zone.
        Raises UnknownMarketplaceError."""
        return local_date(instant, self.timezone(marketplace))

    def version_at(self, marketplace: str, day: date) -> RuleSetVersion:
        """The version in force on ``day``.

        Raises UnknownMarketplaceError or NoRuleSetVersionError.
        """
        for version in self.versions(marketplace):
            if version.in_force_on(day):
                return version
        raise NoRuleSetVersionError(marketplace, day)

    def version_nearest(self, marketplace: str, day: date) -> RuleSetVersion:
        """The version in force on ``day``, else the first one if ``day`` is before it, else the
        last. For judging what was stored, which must always be shown: an offer starting on a
        day without rules (year 1, written before the contract's bounds) is judged by the
        nearest rules rather than failing the read. Raises UnknownMarketplaceError."""
        versions = self.versions(marketplace)
        for version in versions:
            if version.in_force_on(day):
                return version
        return versions[0] if day < versions[0].effective_from else versions[-1]


def load_rulesets(
    overrides: Mapping[str, object] | None = None, *, data_dir: Path | None = None
) -> RuleBook:
    """The rule book from the shipped data files (or ``data_dir``), with ``overrides`` applied.

    Files are read and validated once per directory; raises RuleSetFileError naming the file
    and field of the first problem, RuleSetOverrideError for a bad override.
    """
    files = _parse_directory(data_dir.resolve() if data_dir else DATA_DIR)
    book = _build_rulebook(files)
    return _apply_overrides(book, overrides) if overrides else book


@functools.cache
def _parse_directory(directory: Path) -> tuple[tuple[str, RuleSetFile], ...]:
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise RuleSetFileError(_display(directory), "no rule-set files (*.toml) found")
    parsed = tuple((_display(path), _parse_file(path)) for path in paths)
    seen: dict[str, str] = {}
    for display, ruleset in parsed:
        for index, marketplace in enumerate(ruleset.marketplaces):
            if marketplace.code in seen:
                raise RuleSetFileError(
                    display,
                    f"marketplace {marketplace.code} is already defined in "
                    f"{seen[marketplace.code]}",
                    f"$.marketplaces[{index}].code",
                )
            seen[marketplace.code] = display
    return parsed


def _display(path: Path) -> str:
    # Name files relative to the project so messages read the same on every machine.
    try:
        return path.relative_to(_PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _parse_file(path: Path) -> RuleSetFile:
    display = _display(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetFileError(display, f"invalid TOML: {exc}") from None
    try:
        ruleset = msgspec.convert(raw, RuleSetFile)
    except msgspec.ValidationError as exc:
        # msgspec already ends its message with " - at `$.path`"; keep it as is.
        raise RuleSetFileError(display, str(exc)) from None
    _check_semantics(display, ruleset)
    return ruleset


def _check_semantics(display: str, ruleset: RuleSetFile) -> None:
    """What the schema cannot say: dates in order, sources present, time zones real."""
    for index, marketplace in enumerate(ruleset.marketplaces):
        try:
            zoneinfo.ZoneInfo(marketplace.reference_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise RuleSetFileError(
                display,
                f"unknown time zone {marketplace.reference_timezone!r}",
                f"$.marketplaces[{index}].reference_timezone",
            ) from None
    ids: set[str] = set()
    previous_end: date | None = None
    for index, version in enumerate(ruleset.versions):
        at = f"$.versions[{index}]"
        if version.id in ids:
            raise RuleSetFileError(display, f"duplicate version id {version.id!r}", f"{at}.id")
        ids.add(version.id)
        if version.effective_to is not None and version.effective_to <= version.effective_from:
            raise RuleSetFileError(
                display, "effective_to must be after effective_from", f"{at}.effective_to"
            )
        if index > 0 and (previous_end is None or version.effective_from < previous_end):
            raise RuleSetFileError(
                display,
                "versions must be in date order and must not overlap",
                f"{at}.effective_from",
            )
        previous_end = version.effective_to
        if version.limits.min_per_occurrence > version.limits.min_aggregate:
            raise RuleSetFileError(
                display,
                "min_per_occurrence must not exceed min_aggregate",
                f"{at}.limits.min_per_occurrence",
            )
        for rule in RULE_NAMES:
            key = getattr(version, rule).source
            if key not in ruleset.sources:
                raise RuleSetFileError(display, f"unknown source {key!r}", f"{at}.{rule}.source")


def _build_rulebook(files: tuple[tuple[str, RuleSetFile], ...]) -> RuleBook:
    versions: dict[str, tuple[RuleSetVersion, ...]] = {}
    for _, ruleset in files:
        for marketplace in ruleset.marketplaces:
            versions[marketplace.code] = tuple(
                RuleSetVersion(
                    marketplace=marketplace.code,
                    marketplace_name=marketplace.name,
                    version=data.id,
                    effective_from=data.effective_from,
                    effective_to=data.effective_to,
                    status=data.status,
                    note=data.note,
                    currency=ruleset.currency,
                    reference_timezone=marketplace.reference_timezone,
                    trigger=data.trigger,
                    sales_scope=data.sales_scope,
                    compliance=data.compliance,
                    limits=data.limits,
                    deductible=data.deductible,
                    policy_forms=data.policy_forms,
                    additional_insured=data.additional_insured,
                    insurer_rating=data.insurer_rating,
                    notice=data.notice,
                    proof=data.proof,
                    small_claims=data.small_claims,
                    territories=data.territories,
                    sources=dict(ruleset.sources),
                )
                for data in ruleset.versions
            )
    return RuleBook(versions)


def _apply_overrides(book: RuleBook, overrides: Mapping[str, object]) -> RuleBook:
    versions = {code: list(book.versions(code)) for code in book.marketplaces()}
    for key, raw_value in overrides.items():
        match = _OVERRIDE_KEY.match(key)
        if match is None:
            raise RuleSetOverrideError(
                key, "expected '<MARKETPLACE>.<figure>' or '<MARKETPLACE>@<version>.<figure>'"
            )
        marketplace, only_version, figure = match.group("marketplace", "version", "figure")
        if marketplace not in versions:
            raise RuleSetOverrideError(key, f"unknown marketplace {marketplace!r}")
        if figure not in OVERRIDABLE:
            raise RuleSetOverrideError(
                key, f"unknown figure {figure!r}; one of: {', '.join(sorted(OVERRIDABLE))}"
            )
        rule_name, field, value_type = OVERRIDABLE[figure]
        try:
            value = msgspec.convert(raw_value, value_type, strict=False)
        except msgspec.ValidationError as exc:
            raise RuleSetOverrideError(key, str(exc)) from None
        targets = [
            i
            for i, version in enumerate(versions[marketplace])
            if only_version is None or version.version == only_version
        ]
        if not targets:
            raise RuleSetOverrideError(key, f"no {marketplace} version {only_version!r}")
        for i in targets:
            version = versions[marketplace][i]
            rule = msgspec.structs.replace(getattr(version, rule_name), **{field: value})
            overridden = tuple(sorted({*version.overridden, figure}))
            versions[marketplace][i] = msgspec.structs.replace(
                version, **{rule_name: rule, "overridden": overridden}
            )
    for items in versions.values():
        for version in items:
            if version.limits.min_per_occurrence > version.limits.min_aggregate:
                raise RuleSetOverrideError(
                    ", ".join(sorted(overrides)),
                    f"{version.marketplace} {version.version}: min_per_occurrence would exceed "
                    "min_aggregate",
                )
    return RuleBook({code: tuple(items) for code, items in versions.items()})
