"""Which partner's events reach a policy: insurer names compared, and the policy an event means."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accelerator.coverage.linking import (
    AmbiguousPolicy,
    InsurerDirectory,
    ReviewReason,
    insurer_key,
    policy_for_event,
)
from accelerator.coverage.models import PolicyRow
from schemas import PolicySource


@pytest.mark.parametrize(
    "written",
    [
        "Harbor Mutual Insurance Company",
        "HARBOR MUTUAL INSURANCE CO.",
        "Harbor Mutual Insurance Co, Inc.",
        "The Harbor Mutual Insurance Company",
        "  harbor   mutual insurance corp ",
    ],
)
def test_spellings_of_one_insurer_compare_equal(written: str) -> None:
    assert insurer_key(written) == "harbor mutual insurance"


def test_accents_ampersands_and_punctuation_do_not_count_but_words_do() -> None:
    assert insurer_key("Société Générale Assurances") == insurer_key("Societe Generale Assurances")
    assert insurer_key("Smith & Sons Underwriters") == insurer_key("Smith and Sons Underwriters")
    assert insurer_key("Harbor Mutual") != insurer_key("Harbor Mutual Insurance Company")


def test_the_directory_links_a_name_to_its_one_partner_and_a_shared_name_to_none() -> None:
    directory = InsurerDirectory.of(
        {
            "harbor": "Harbor Mutual Insurance Company",
            "twin-a": "Twin Casualty",
            "twin-b": "Twin Casualty Co.",
        }
    )
    assert directory.provider_for("harbor mutual insurance co.") == "harbor"
    assert directory.provider_for("Twin Casualty") is None  # two partners: an operator decides
    assert directory.provider_for("Someone Else") is None
    assert directory.provider_ids == {"harbor", "twin-a", "twin-b"}


def policy(policy_id: str, source: PolicySource, review: ReviewReason | None = None) -> PolicyRow:
    return PolicyRow(
        id=policy_id,
        seller_id="s-1",
        insurer_name="Harbor Mutual Insurance Company",
        insurer_key="harbor mutual insurance",
        policy_number="HMI-GL-2026-000001",
        provider_id="harbor",
        review_reason=review,
        source=source,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_an_event_means_the_bound_policy_whatever_shares_its_number() -> None:
    bound = policy("p-bound", PolicySource.BOUND)
    squatter = policy("p-squat", PolicySource.SUBMITTED, ReviewReason.NUMBER_COLLISION)
    assert policy_for_event([squatter, bound]) is bound


def test_an_event_means_the_only_linked_submission_not_in_review_else_it_waits() -> None:
    submitted = policy("p-1", PolicySource.SUBMITTED)
    in_review = policy("p-9", PolicySource.SUBMITTED, ReviewReason.NUMBER_COLLISION)
    assert policy_for_event([submitted]) is submitted
    assert policy_for_event([in_review, submitted]) is submitted
    assert policy_for_event([]) is None
    with pytest.raises(AmbiguousPolicy, match="p-1, p-2"):
        policy_for_event([submitted, policy("p-2", PolicySource.SUBMITTED)])
    with pytest.raises(AmbiguousPolicy):
        policy_for_event([policy("p-3", PolicySource.SUBMITTED, ReviewReason.NUMBER_COLLISION)])
