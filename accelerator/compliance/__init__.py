"""Compliance: how cover measures up to a marketplace's rules, and where a seller stands.

- ``evaluate`` and ``text``: the pure evaluation of cover terms (an offer or a policy) against a
  rule-set version, shared by quoting, binding and the coverage check;
- ``standing`` and ``history``: the pure judgement of a seller's policies today, and their
  event logs told for people;
- ``status``, ``service`` and ``controller``: the seller's compliance status
  (``GET /v1/sellers/{seller_id}/compliance`` and the seller's coverage page).

The evaluation is below the coverage registry (the claims decision uses it) and the rest above
it (it judges the registry's policies): only the evaluation is exported here, so importing this
package never imports ``coverage``.
"""

from accelerator.compliance.evaluate import (
    ACCEPTED_COVERAGE_TYPES,
    GAP_ORDER,
    CoverTerms,
    category_covered,
    evaluate_cover,
    evaluate_submission,
    terms_of_offer,
    terms_of_policy,
)
from accelerator.compliance.text import entity_key, normalise

__all__ = [
    "ACCEPTED_COVERAGE_TYPES",
    "GAP_ORDER",
    "CoverTerms",
    "category_covered",
    "entity_key",
    "evaluate_cover",
    "evaluate_submission",
    "normalise",
    "terms_of_offer",
    "terms_of_policy",
]
