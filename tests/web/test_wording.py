"""Plain words on the seller pages: ranges, times in the marketplace's zone, lists."""

from __future__ import annotations

from datetime import UTC, datetime

from accelerator.web import wording
from tests.compliance.factories import usd

LA = "America/Los_Angeles"


def test_an_equal_range_reads_as_one_figure() -> None:
    assert wording.money_range(usd(500), usd(500)) == "$500"
    assert wording.money_range(usd(500), usd(900)) == "$500 to $900"


def test_an_instant_reads_on_the_marketplace_clock_with_its_zone() -> None:
    at = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
    assert wording.instant(at, LA) == "6 Dec 2026, 18:30 PST"
    assert wording.instant(at) == "7 Dec 2026, 02:30 UTC"


def test_the_start_of_a_policy_day_reads_as_the_bare_date() -> None:
    assert wording.moment(datetime(2026, 12, 7, 8, 1, tzinfo=UTC), LA) == "7 December 2026"
    assert wording.moment(datetime(2026, 12, 7, 2, 30, tzinfo=UTC), LA) == (
        "6 December 2026 at 18:30 PST"
    )


def test_territories_read_as_country_names() -> None:
    assert wording.countries(["US", "CA"]) == "United States and Canada"
    assert wording.countries(["US", "CA", "ZZ"]) == "United States, Canada and ZZ"
    assert wording.listing([], "nothing listed") == "nothing listed"
