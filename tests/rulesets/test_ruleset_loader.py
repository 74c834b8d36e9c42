"""The loader: shipped data, broken files, overrides and look-ups."""

import shutil
from datetime import date
from pathlib import Path

import pytest

from accelerator.risk import load_taxonomy
from accelerator.rulesets import (
    RULE_NAMES,
    ConsecutiveMonthsTrigger,
    NoRuleSetVersionError,
    OneMonthTrigger,
    RuleBook,
    RuleSetFileError,
    RuleSetOverrideError,
    UnknownMarketplaceError,
    load_rulesets,
    rating_at_least,
)
from accelerator.rulesets.loader import DATA_DIR

US_FILE = DATA_DIR / "us.toml"


def copy_us_file(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    """A data directory holding only us.toml, optionally with one text replacement."""
    target = tmp_path / "us.toml"
    shutil.copy(US_FILE, target)
    if edit:
        text = target.read_text(encoding="utf-8")
        assert edit[0] in text
        target.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    return tmp_path


def test_shipped_rule_sets_cover_the_design_marketplaces(rulebook: RuleBook) -> None:
    expected = {"US", "CA", "UK", "DE", "FR", "IT", "ES", "NL", "BE", "SE", "PL", "JP"}
    assert expected <= set(rulebook.marketplaces())


def test_every_marketplace_has_a_version_in_force_today_and_every_rule_a_source(
    rulebook: RuleBook,
) -> None:
    for marketplace in rulebook.marketplaces():
        version = rulebook.version_at(marketplace, date(2025, 6, 1))
        for rule in RULE_NAMES:
            assert version.source_of(rule).url.startswith("https://")


def test_shipped_thresholds_match_the_design(rulebook: RuleBook) -> None:
    today = date(2025, 6, 1)
    thresholds = {
        m: (rulebook.version_at(m, today).trigger.threshold, rulebook.currency_of(m))
        for m in ("US", "CA", "UK", "DE", "SE", "PL", "JP")
    }
    assert thresholds == {
        "US": (10_000, "USD"),
        "CA": (10_000, "CAD"),
        "UK": (4_000, "GBP"),
        "DE": (5_000, "EUR"),
        "SE": (50_000, "SEK"),
        "PL": (22_500, "PLN"),
        "JP": (1_000_000, "JPY"),
    }


def test_us_has_two_versions_split_on_2021_09_01(rulebook: RuleBook) -> None:
    old, new = rulebook.versions("US")
    assert old.effective_to == new.effective_from == date(2021, 9, 1)
    assert rulebook.version_at("US", date(2021, 8, 31)) is old
    assert rulebook.version_at("US", date(2021, 9, 1)) is new
    assert isinstance(old.trigger, ConsecutiveMonthsTrigger)
    assert old.trigger.months == 3
    assert isinstance(new.trigger, OneMonthTrigger)


def test_us_current_version_states_the_documented_requirements(rulebook: RuleBook) -> None:
    us = rulebook.version_at("US", date(2025, 1, 1))
    assert us.compliance.days == 30
    assert us.policy_forms.accepted == ["occurrence"]
    assert us.claims_made_allowed_for("health/dietary-supplements")
    assert not us.claims_made_allowed_for("electronics/power-banks")
    assert us.additional_insured.wording == (
        "Amazon.com Services LLC and its affiliates and assignees"
    )
    assert us.insurer_rating.minimum == "A-"
    assert us.notice.days == 30
    assert us.proof.min_remaining_term_days == 60
    assert us.small_claims.threshold == 1000
    assert us.territories.countries == ["US"]
    assert us.reference_timezone == "America/Los_Angeles"


def test_eu_stores_share_one_rule_set_that_sums_sales_since_2024_05_29(
    rulebook: RuleBook,
) -> None:
    de = rulebook.version_at("DE", date(2024, 5, 29))
    fr = rulebook.version_at("FR", date(2024, 5, 29))
    assert de.version == fr.version == "eu-2024-05-29"
    assert de.sales_scope.scope == "store_group"
    assert (de.reference_timezone, fr.reference_timezone) == ("Europe/Berlin", "Europe/Paris")
    assert rulebook.version_at("DE", date(2024, 5, 28)).sales_scope.fulfilment == (
        "marketplace_fulfilled"
    )


def test_limits_outside_the_us_are_marked_disputed_with_a_note(rulebook: RuleBook) -> None:
    for marketplace in ("UK", "DE", "CA", "JP"):
        limits = rulebook.version_at(marketplace, date(2025, 1, 1)).limits
        assert limits.disputed
        assert limits.note
    assert not rulebook.version_at("US", date(2025, 1, 1)).limits.disputed


def test_japan_rule_set_is_marked_historic(rulebook: RuleBook) -> None:
    assert rulebook.version_at("JP", date(2025, 1, 1)).status == "historic"


def test_claims_made_categories_exist_in_the_taxonomy(rulebook: RuleBook) -> None:
    taxonomy = load_taxonomy()
    for marketplace in rulebook.marketplaces():
        for version in rulebook.versions(marketplace):
            for category in version.policy_forms.claims_made_categories:
                assert category in taxonomy


def test_unknown_marketplace_is_a_typed_error(rulebook: RuleBook) -> None:
    with pytest.raises(UnknownMarketplaceError) as caught:
        rulebook.version_at("XX", date(2025, 1, 1))
    assert "US" in caught.value.known


def test_date_before_the_first_version_has_no_rule(rulebook: RuleBook) -> None:
    with pytest.raises(NoRuleSetVersionError):
        rulebook.version_at("US", date(2010, 1, 1))


def test_loader_names_file_and_field_of_a_wrong_type(tmp_path: Path) -> None:
    data_dir = copy_us_file(tmp_path, ("threshold = 10000", 'threshold = "10000"'))
    with pytest.raises(RuleSetFileError) as caught:
        load_rulesets(data_dir=data_dir)
    message = str(caught.value)
    assert message.startswith(f"{data_dir / 'us.toml'}: ")
    assert "Expected `int`, got `str` - at `$.versions[0].trigger.threshold`" in message


def test_loader_names_the_shipped_file_relative_to_the_project() -> None:
    from accelerator.rulesets.loader import _display

    assert _display(US_FILE) == "accelerator/rulesets/data/us.toml"


def test_loader_rejects_unknown_fields(tmp_path: Path) -> None:
    data_dir = copy_us_file(
        tmp_path, ("[versions.compliance]\n", "[versions.compliance]\nweeks = 4\n")
    )
    with pytest.raises(RuleSetFileError, match=r"unknown field `weeks` - at `\$.versions\[0\]"):
        load_rulesets(data_dir=data_dir)


def test_loader_rejects_a_rule_citing_an_unknown_source(tmp_path: Path) -> None:
    data_dir = copy_us_file(
        tmp_path, ('days = 30\nsource = "forum_2018"', 'days = 30\nsource = "nowhere"')
    )
    with pytest.raises(RuleSetFileError, match=r"at `\$\.versions\[0\]\.compliance\.source`"):
        load_rulesets(data_dir=data_dir)


def test_loader_rejects_overlapping_versions(tmp_path: Path) -> None:
    data_dir = copy_us_file(
        tmp_path, ("effective_from = 2021-09-01", "effective_from = 2021-08-01")
    )
    with pytest.raises(RuleSetFileError, match=r"overlap - at `\$\.versions\[1\]\.effective_from`"):
        load_rulesets(data_dir=data_dir)


def test_loader_rejects_an_unknown_time_zone(tmp_path: Path) -> None:
    data_dir = copy_us_file(
        tmp_path, ('reference_timezone = "America/Los_Angeles"', 'reference_timezone = "Mars/Base"')
    )
    with pytest.raises(RuleSetFileError, match=r"marketplaces\[0\]\.reference_timezone"):
        load_rulesets(data_dir=data_dir)


def test_loader_reports_invalid_toml_with_the_file_name(tmp_path: Path) -> None:
    data_dir = copy_us_file(tmp_path, ('rule_set = "us"', "rule_set = "))
    with pytest.raises(RuleSetFileError, match=r"us\.toml: invalid TOML"):
        load_rulesets(data_dir=data_dir)


def test_override_replaces_a_disputed_figure_in_every_version() -> None:
    book = load_rulesets({"UK.min_per_occurrence": "1000000", "UK.min_aggregate": 1_000_000})
    for version in book.versions("UK"):
        assert version.limits.min_per_occurrence == 1_000_000
        assert version.limits.min_aggregate == 1_000_000
        assert version.overridden == ("min_aggregate", "min_per_occurrence")
    assert load_rulesets().version_at("UK", date(2025, 1, 1)).limits.min_aggregate == 400_000


def test_override_can_target_one_version_only() -> None:
    book = load_rulesets({"US@us-2018.additional_insured_name": "Example Marketplace Inc."})
    old, new = book.versions("US")
    assert old.additional_insured.entity_name == "Example Marketplace Inc."
    assert new.additional_insured.entity_name == "Amazon.com Services LLC"
    assert new.overridden == ()


def test_override_of_one_eu_store_leaves_the_others_alone() -> None:
    book = load_rulesets({"FR.min_per_occurrence": "500000", "FR.min_aggregate": "2000000"})
    assert book.version_at("FR", date(2025, 1, 1)).limits.min_aggregate == 2_000_000
    assert book.version_at("DE", date(2025, 1, 1)).limits.min_aggregate == 500_000


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"UK.min_per_ocurrence": 1}, "unknown figure"),
        ({"XX.min_aggregate": 1}, "unknown marketplace"),
        ({"uk.min_aggregate": 1}, "expected '<MARKETPLACE>.<figure>'"),
        ({"US@us-1999.min_aggregate": 1}, "no US version"),
        ({"UK.min_aggregate": "lots"}, "Expected `int`"),
        ({"UK.min_aggregate": 0}, "Expected `int` >= 1"),
        ({"US.min_insurer_rating": "AAA"}, "Invalid enum value 'AAA'"),
        ({"US.min_per_occurrence": 5_000_000}, "would exceed min_aggregate"),
    ],
)
def test_bad_override_is_rejected_with_its_key(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(RuleSetOverrideError) as caught:
        load_rulesets(overrides)
    assert fragment in str(caught.value)


def test_insurer_rating_scale_is_ordered() -> None:
    assert rating_at_least("A", "A-")
    assert rating_at_least("A-", "A-")
    assert not rating_at_least("B++", "A-")
    assert rating_at_least("A++", "A+")
