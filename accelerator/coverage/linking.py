"""Which partner's events reach which policy, and when a policy waits for an operator.

Insurer events name a policy by the partner that sends them and the policy's number. A policy
bound here belongs to the partner that bound it. A certificate a seller submits names an
insurer in words, so it is linked to the configured partner whose insurer has that name,
compared in a normalised form (:func:`insurer_key`); an operator may link or unlink it by hand.

A policy number is the insurer's, so a seller can write anyone's into a certificate. Such a
submission must neither block the insurer's real policy nor reveal it: a submission sharing its
insurer and number with another policy is accepted like any other, and waits for an operator's
review (:class:`ReviewReason`), as does any unconfirmed policy it collides with. Until then no
partner event applies to a policy in review; a bound policy is never in review.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from accelerator.coverage.models import PolicyRow
from schemas import PolicySource


class ReviewReason(enum.StrEnum):
    """Why a policy waits for an operator (stored in ``policies.review_reason``)."""

    #: Another policy of the same insurer carries the same number.
    NUMBER_COLLISION = "number_collision"


# Words that say what kind of company it is, not which one: "Harbor Mutual Insurance Co."
# and "Harbor Mutual Insurance Company, Inc." are one insurer.
_LEGAL_FORMS: Final = frozenset(
    {"co", "company", "corp", "corporation", "inc", "incorporated", "llc", "ltd", "limited", "plc"}
)
_NOT_A_WORD: Final = re.compile(r"[^0-9a-z]+")


def insurer_key(name: str) -> str:
    """An insurer's name as compared: case, accents, punctuation, ``&``/``and`` and legal-form
    words (Inc., Co., LLC…) do not count."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    words = _NOT_A_WORD.split(plain.replace("&", " and "))
    kept = [w for w in words if w and w not in _LEGAL_FORMS]
    if kept and kept[0] == "the":
        kept = kept[1:]
    return " ".join(kept)


@dataclass(frozen=True)
class InsurerDirectory:
    """The configured partners, and each by its insurer's normalised name."""

    provider_ids: frozenset[str] = frozenset()
    by_key: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, insurer_names: Mapping[str, str]) -> InsurerDirectory:
        """From ``provider_id -> insurer name``. A name two partners share links to neither
        (an operator links such policies by hand)."""
        seen: dict[str, list[str]] = {}
        for provider_id, name in insurer_names.items():
            seen.setdefault(insurer_key(name), []).append(provider_id)
        return cls(
            frozenset(insurer_names), {key: ids[0] for key, ids in seen.items() if len(ids) == 1}
        )

    def provider_for(self, insurer_name: str) -> str | None:
        """The partner whose insurer this is, if exactly one is configured."""
        return self.by_key.get(insurer_key(insurer_name))


class AmbiguousPolicy(Exception):
    """A partner's event names a number that more than one policy linked to it carries, or one
    that waits for review: an operator must decide which policy it is about."""


def policy_for_event(candidates: Iterable[PolicyRow]) -> PolicyRow | None:
    """The policy a partner's event about a number means, among the policies linked to that
    partner under that number: the one it bound, else the only one not in review; None
    without any.

    Raises :class:`AmbiguousPolicy` when only policies in review carry it, or several do not.
    """
    rows = list(candidates)
    bound = [row for row in rows if row.source == PolicySource.BOUND]
    if bound:
        return bound[0]  # unique: numbers are unique among bound policies
    settled = [row for row in rows if row.review_reason is None]
    if len(settled) == 1:
        return settled[0]
    if rows:
        raise AmbiguousPolicy(
            "policies sharing this number wait for an operator's review: "
            + ", ".join(sorted(row.id for row in rows))
        )
    return None
