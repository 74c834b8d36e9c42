"""Evaluate cover against a marketplace rule set version: one evaluation for offers (before
buying) and for policies (at claim time).

Pure: terms, rule-set version and the seller's categories in; gaps out. Each gap code appears
at most once, in the order of :data:`GAP_ORDER`; its message names every figure involved.
"""

import functools
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final, cast

import msgspec

from accelerator.compliance.text import entity_key, money, normalise
from accelerator.rulesets.model import AM_BEST_SCALE, AmBestRating, RuleSetVersion, rating_at_least
from accelerator.rulesets.zones import local_date
from schemas import Gap, GapCode, Money, Offer, PolicyTerms

#: Kinds of liability policy the marketplaces accept (DESIGN §3.1: "commercial general,
#: umbrella or excess liability"). The rule-set data do not vary this yet.
ACCEPTED_COVERAGE_TYPES: Final = frozenset({"general_liability", "umbrella", "excess"})

GAP_ORDER: Final[tuple[GapCode, ...]] = (
    "currency_mismatch",
    "policy_form_not_accepted",
    "claims_made_not_permitted",
    "limit_below_requirement",
    "deductible_above_maximum",
    "additional_insured_missing",
    "named_insured_mismatch",
    "insurer_rating_below_minimum",
    "category_not_covered",
    "territory_not_covered",
    "notice_period_too_short",
    "remaining_term_too_short",
)


# A struct, not a frozen dataclass: every policy a coverage check assesses is turned into one,
# and a frozen dataclass sets each of its 18 fields through object.__setattr__ (2.1 -> 0.6 µs).
class CoverTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What the rules look at in an offer or a policy.

    ``additional_insureds`` holds each endorsement as one phrase, name and wording together
    ("Amazon.com Services LLC and its affiliates and assignees"). ``period_start`` and
    ``period_end`` are dates for offers and instants for policies.
    """

    reference: str
    insurer_name: str
    insurer_rating: str
    coverage_type: str
    policy_form: str
    per_occurrence: Money
    aggregate: Money
    products_completed_operations_aggregate: Money
    deductible: Money
    additional_insureds: tuple[str, ...]
    certificate_holder_only: bool
    territories: tuple[str, ...]
    covered_categories: tuple[str, ...]
    cancellation_notice_days: int
    named_insured: str | None
    period_start: date | datetime
    period_end: date | datetime
    premium_total: Money | None = None


def endorsement_phrase(offer: Offer) -> str | None:
    """The offer's additional-insured endorsement as one phrase, name and wording together."""
    endorsement = offer.additional_insured
    if endorsement is None:
        return None
    # Insurers send the wording either whole or as the part after the name.
    if normalise(endorsement.wording).startswith(normalise(endorsement.name)):
        return endorsement.wording
    return f"{endorsement.name} {endorsement.wording}"


def terms_of_offer(offer: Offer, named_insured: str | None = None) -> CoverTerms:
    """The cover an offer would give; ``named_insured`` is whom it would insure, if known."""
    phrase = endorsement_phrase(offer)
    insureds: tuple[str, ...] = (phrase,) if phrase else ()
    return CoverTerms(
        reference=offer.quote_reference,
        insurer_name=offer.insurer_name,
        insurer_rating=offer.insurer_rating,
        coverage_type=offer.coverage_type,
        policy_form=offer.policy_form,
        per_occurrence=offer.per_occurrence_limit,
        aggregate=offer.aggregate_limit,
        products_completed_operations_aggregate=offer.products_completed_operations_aggregate,
        deductible=offer.deductible,
        additional_insureds=insureds,
        certificate_holder_only=offer.certificate_holder_only,
        territories=tuple(offer.territories),
        covered_categories=tuple(offer.covered_categories),
        cancellation_notice_days=offer.cancellation_notice_days,
        named_insured=named_insured,
        period_start=offer.effective_date,
        period_end=offer.expiry_date,
        premium_total=offer.total,
    )


def terms_of_policy(policy: PolicyTerms) -> CoverTerms:
    """The cover a bound or submitted policy gives."""
    return CoverTerms(
        reference=policy.policy_number,
        insurer_name=policy.insurer_name,
        insurer_rating=policy.insurer_rating,
        coverage_type=policy.coverage_type,
        policy_form=policy.policy_form,
        per_occurrence=policy.per_occurrence_limit,
        aggregate=policy.aggregate_limit,
        products_completed_operations_aggregate=policy.products_completed_operations_aggregate,
        deductible=policy.deductible,
        additional_insureds=tuple(policy.additional_insureds),
        certificate_holder_only=False,
        territories=tuple(policy.territories),
        covered_categories=tuple(policy.covered_categories),
        cancellation_notice_days=policy.cancellation_notice_days,
        named_insured=policy.named_insured,
        period_start=policy.effective_at,
        period_end=policy.expires_at,
        premium_total=policy.premium_total,
    )


def category_covered(category: str, covered: Sequence[str]) -> bool:
    """True when ``category`` is one of ``covered`` or a child of one ("electronics" covers
    "electronics/power-banks", not "electronics-accessories")."""
    return any(category == parent or category.startswith(parent + "/") for parent in covered)


def evaluate_cover(
    terms: CoverTerms,
    version: RuleSetVersion,
    *,
    categories: Sequence[str],
    legal_name: str | None,
) -> list[Gap]:
    """Every way ``terms`` fall short of ``version`` for a seller selling ``categories``.

    Promises: an empty list means compliant; each gap code at most once, in
    :data:`GAP_ORDER`; boundaries are inclusive (a limit of exactly the minimum, a deductible of
    exactly the maximum, notice of exactly the required days all comply). Amounts in another
    currency than the rule set's give ``currency_mismatch`` and are not compared. The named
    insured is checked only when both ``legal_name`` and the terms' named insured are known.
    """
    gaps: list[Gap] = []
    for check in _CHECKS:
        gap = check(terms, version, categories, legal_name)
        if gap is not None:
            gaps.append(gap)
    return gaps


def evaluate_submission(
    terms: CoverTerms, version: RuleSetVersion, submitted_on: date
) -> list[Gap]:
    """``remaining_term_too_short`` when a policy submitted on ``submitted_on`` has fewer than
    ``proof.min_remaining_term_days`` days left (exactly that many is enough); else no gap.

    Only the proof rule: combine with :func:`evaluate_cover` for the whole picture. The expiry
    is read as a date in the marketplace's reference time zone.
    """
    expiry = _local_date(terms.period_end, version.reference_timezone)
    remaining = (expiry - submitted_on).days
    required = version.proof.min_remaining_term_days
    if remaining >= required:
        return []
    return [
        Gap(
            code="remaining_term_too_short",
            message=(
                f"Policy {terms.reference} has {_days(max(remaining, 0))} left on "
                f"{submitted_on.isoformat()} (expires {expiry.isoformat()}); the marketplace "
                f"requires at least {required} days when it is submitted."
            ),
            rule="proof",
        )
    ]


def _local_date(value: date | datetime, timezone: str) -> date:
    if isinstance(value, datetime):
        return local_date(value, timezone)
    return value


def _amounts(terms: CoverTerms) -> list[tuple[str, Money]]:
    named = [
        ("per-occurrence limit", terms.per_occurrence),
        ("aggregate limit", terms.aggregate),
        ("products/completed-operations aggregate", terms.products_completed_operations_aggregate),
        ("deductible", terms.deductible),
    ]
    if terms.premium_total is not None:
        named.append(("total annual cost", terms.premium_total))
    return named


def _currency(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    foreign = [
        f"{label} in {m.currency}" for label, m in _amounts(terms) if m.currency != version.currency
    ]
    if not foreign:
        return None
    return Gap(
        code="currency_mismatch",
        message=(
            f"The marketplace's rules are stated in {version.currency}, but the "
            f"{_join(foreign)}; amounts are not converted."
        ),
        rule="currency",
    )


def _coverage_type(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    form_ok = (
        terms.policy_form in version.policy_forms.accepted or terms.policy_form == "claims_made"
    )
    if terms.coverage_type in ACCEPTED_COVERAGE_TYPES and form_ok:
        return None
    kind = terms.coverage_type.replace("_", " ")
    form = terms.policy_form.replace("_", "-")
    return Gap(
        code="policy_form_not_accepted",
        message=(
            f"A {kind} policy on the {form} form is not accepted; the marketplace accepts "
            f"commercial general, umbrella or excess liability on the "
            f"{_join([f.replace('_', '-') for f in version.policy_forms.accepted], 'or')} form."
        ),
        rule="policy_forms",
    )


def _claims_made(
    terms: CoverTerms, version: RuleSetVersion, categories: Sequence[str], _name: str | None
) -> Gap | None:
    if terms.policy_form != "claims_made":
        return None
    # With no category to judge by, only a rule set accepting claims-made outright allows it.
    allowed = [c for c in categories if version.claims_made_allowed_for(c)]
    if categories and len(allowed) == len(categories):
        return None
    if "claims_made" in version.policy_forms.accepted:
        return None
    refused = [c for c in categories if c not in allowed]
    where = f" for {_join(refused)}" if refused else ""
    permitted = version.policy_forms.claims_made_categories
    only = f" (it is accepted only for {_join(permitted)})" if permitted else ""
    return Gap(
        code="claims_made_not_permitted",
        message=(
            f"A claims-made policy is not accepted{where}; the marketplace requires the "
            f"occurrence form{only}."
        ),
        rule="policy_forms",
    )


def _limits(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    minimum_occurrence = Decimal(version.limits.min_per_occurrence)
    minimum_aggregate = Decimal(version.limits.min_aggregate)
    checks = [
        ("per-occurrence limit", terms.per_occurrence, minimum_occurrence),
        ("aggregate limit", terms.aggregate, minimum_aggregate),
        (
            "products/completed-operations aggregate",
            terms.products_completed_operations_aggregate,
            minimum_aggregate,
        ),
    ]
    short = [
        f"{label} {money(limit)} is below the marketplace minimum of "
        f"{money(version.money(minimum))}"
        for label, limit, minimum in checks
        if limit.currency == version.currency and limit.amount < minimum
    ]
    if not short:
        return None
    return Gap(code="limit_below_requirement", message=_sentence("; ".join(short)), rule="limits")


def _deductible(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    maximum = Decimal(version.deductible.max_deductible)
    if terms.deductible.currency != version.currency or terms.deductible.amount <= maximum:
        return None
    return Gap(
        code="deductible_above_maximum",
        message=(
            f"Deductible {money(terms.deductible)} is above the marketplace maximum of "
            f"{money(version.money(maximum))}."
        ),
        rule="deductible",
    )


def _additional_insured(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    rule = version.additional_insured
    if any(
        _names_operator(phrase, rule.entity_name, rule.wording_suffix)
        for phrase in terms.additional_insureds
    ):
        return None
    required = f'"{rule.wording}"'
    if terms.certificate_holder_only:
        problem = "the operator appears only as certificate holder, which does not count"
    elif not terms.additional_insureds:
        problem = "no additional insured is named"
    else:
        named = _join([f'"{phrase}"' for phrase in terms.additional_insureds])
        problem = f"the additional insured is {named}"
    return Gap(
        code="additional_insured_missing",
        message=_sentence(f"The policy must name {required} as additional insured, but {problem}"),
        rule="additional_insured",
    )


def _names_operator(phrase: str, entity_name: str, wording_suffix: str) -> bool:
    """The phrase names the operator's entity followed by the required wording; anything after
    the wording (an address, say) is allowed."""
    text, name, suffix = _normalised(phrase), _normalised(entity_name), _normalised(wording_suffix)
    if not text.startswith(name):
        return False
    rest = text[len(name) :]
    if rest and not rest.startswith(" "):
        return False  # "amazon com services llcx" is another entity
    rest = rest.strip()
    return rest == suffix or rest.startswith(suffix + " ") if suffix else True


@functools.lru_cache(maxsize=4096)
def _normalised(text: str) -> str:
    """:func:`normalise`, remembered: every policy of every coverage check is compared with
    the rule set's wording, and most policies' endorsements repeat it word for word (like
    ``entity_key``'s, a cache bounded in size)."""
    return normalise(text)


def _named_insured(
    terms: CoverTerms, _version: RuleSetVersion, _categories: Sequence[str], legal_name: str | None
) -> Gap | None:
    if legal_name is None or terms.named_insured is None:
        return None
    if entity_key(legal_name) == entity_key(terms.named_insured):
        return None
    return Gap(
        code="named_insured_mismatch",
        message=(
            f'The named insured "{terms.named_insured}" does not match the seller\'s legal name '
            f'"{legal_name}".'
        ),
        rule="named_insured",
    )


def _rating(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    minimum = version.insurer_rating.minimum
    if terms.insurer_rating in AM_BEST_SCALE and rating_at_least(
        cast(AmBestRating, terms.insurer_rating), minimum
    ):
        return None
    return Gap(
        code="insurer_rating_below_minimum",
        message=(
            f"{terms.insurer_name} is rated {terms.insurer_rating}; the marketplace requires "
            f"{minimum} or better (AM Best)."
        ),
        rule="insurer_rating",
    )


def _categories(
    terms: CoverTerms, _version: RuleSetVersion, categories: Sequence[str], _name: str | None
) -> Gap | None:
    missing = sorted({c for c in categories if not category_covered(c, terms.covered_categories)})
    if not missing:
        return None
    listed = _join(list(terms.covered_categories)) if terms.covered_categories else "no category"
    return Gap(
        code="category_not_covered",
        message=f"The policy covers {listed}, not {_join(missing)}.",
        rule="scope",
    )


def _territories(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    missing = [c for c in version.territories.countries if c not in terms.territories]
    if not missing:
        return None
    listed = _join(list(terms.territories)) if terms.territories else "no territory"
    return Gap(
        code="territory_not_covered",
        message=(
            f"The policy responds to claims in {listed}; the marketplace requires {_join(missing)}."
        ),
        rule="territories",
    )


def _notice(
    terms: CoverTerms, version: RuleSetVersion, _categories: Sequence[str], _name: str | None
) -> Gap | None:
    required = version.notice.days
    if terms.cancellation_notice_days >= required:
        return None
    return Gap(
        code="notice_period_too_short",
        message=(
            f"The insurer gives {terms.cancellation_notice_days} days' notice of cancellation; "
            f"the marketplace requires at least {required} days."
        ),
        rule="notice",
    )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _join(items: Sequence[str], conjunction: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


_Check = Callable[[CoverTerms, RuleSetVersion, Sequence[str], str | None], Gap | None]
#: In GAP_ORDER; remaining_term_too_short is evaluate_submission's.
_CHECKS: Final[tuple[_Check, ...]] = (
    _currency,
    _coverage_type,
    _claims_made,
    _limits,
    _deductible,
    _additional_insured,
    _named_insured,
    _rating,
    _categories,
    _territories,
    _notice,
)
