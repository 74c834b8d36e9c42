"""What the served document promises and a schemathesis check expects differently: the checks
excluded per operation, and the rules that may refuse schema-valid data.

Apart from ``fuzz.py`` because our checks (``st_checks.py``) read ``RULE_REFUSALS`` inside each
schemathesis process, and ``fuzz.py`` imports the service (through ``stack.py``): 0.7 s of CPU
per schemathesis process for data it does not use (six processes per suite run).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exclusion:
    """A check that does not apply to one operation, and why."""

    operation_id: str
    check: str
    why: str


# Litestar 2 answers OPTIONS on a path with several methods with an `Allow` header naming only
# some of them (litestar-org/litestar#4169, fixed in Litestar 3).
_STALE_ALLOW = (
    "Litestar's OPTIONS answer lists only some of the path's methods in `Allow` when a "
    "controller has several on it (litestar-org/litestar#4169, fixed in Litestar 3)."
)

#: Known false positives: each a check whose expectation the operation contradicts by design,
#: or a defect outside this service.
KNOWN_FALSE_POSITIVES = (
    Exclusion(
        "checkCoverageBatch",
        "negative_data_rejection",
        "Each item is validated on its own: a batch with invalid checks is a 200 whose slots for "
        "them hold their errors (documented), not a refusal of the whole batch.",
    ),
    Exclusion(
        "putSellerProfile",
        "negative_data_rejection",
        "An amount sent as a JSON number (1234.5) instead of the documented decimal string is "
        "accepted: msgspec decodes a Decimal from either, and the number is then held to the same "
        "bounds. Lenient, not wrong; refusing numbers needs a decimal type of our own.",
    ),
    Exclusion(
        "receiveInsurerWebhook",
        "positive_data_acceptance",
        "Generated bodies and headers are never signed with the partner's secret: the 400/401 "
        "they get is the signature check working, and only a signed delivery is valid.",
    ),
    *(
        Exclusion(operation_id, "allow_header_conformance", _STALE_ALLOW)
        for operation_id in (
            "listQuoteRequests",
            "createQuoteRequest",
            "getSellerProfile",
            "putSellerProfile",
            "listSellerPolicies",
            "submitSellerPolicy",
            "createWebhookEndpoint",
            "listWebhookEndpoints",
            "getWebhookEndpoint",
            "updateWebhookEndpoint",
            "deleteWebhookEndpoint",
        )
    ),
)

#: Rules a schema cannot state, by operation: a schema-valid request may be refused with a 422
#: whose every error carries one of these codes (``refused_only_by_rules`` in st_checks.py
#: checks it; any other 422 on valid data still fails, as ``positive_data_acceptance`` would).
RULE_REFUSALS: dict[str, frozenset[str]] = {
    # Facts judged together or against data: the taxonomy, the rule sets, the calendar.
    "putSellerProfile": frozenset(
        {
            "claims_amount_without_count",
            "currency_mismatch",
            "duplicate_category",
            "duplicate_month",
            "future_month",
            "no_rule_set_in_force",
            "shares_do_not_sum_to_one",
            "unknown_category",
            "unknown_marketplace",
        }
    ),
    # Cover starts today at the earliest (a date schema cannot know), in the marketplace's
    # currency.
    "createQuoteRequest": frozenset({"effective_date_in_past", "currency_mismatch"}),
    # The category must be in the taxonomy, the marketplace must have a rule set at the time.
    "checkCoverage": frozenset({"unknown_category", "unknown_marketplace", "no_rule_set_in_force"}),
    # Expiry after the effective date; amounts in the marketplace's currency.
    # and the categories in the taxonomy.
    "submitSellerPolicy": frozenset(
        {"expiry_before_effective", "currency_mismatch", "unknown_category"}
    ),
    # An endorsement keeps the policy's number; a renewal runs past its effective date.
    "recordPolicyEvent": frozenset({"policy_number_mismatch", "expiry_before_effective"}),
    # `received_to` must come after `received_from`.
    "reprocessWebhooks": frozenset({"range_empty"}),
    # A rejection needs a reason (the body type is shared with verify, where it may be empty).
    "rejectPolicy": frozenset({"required"}),
    # The provider must be a configured insurer: configuration, not schema.
    "linkPolicy": frozenset({"unknown_provider"}),
    # An Idempotency-Key is one request's: reused with another offer or body it is refused;
    # an offer with gaps needs `acknowledge_gaps` (neither has a field of its own to name).
    "bindOffer": frozenset({"idempotency_key_reused", "gaps_not_acknowledged"}),
    # An endpoint's URL must be https and resolve only to public addresses (checked against
    # DNS at registration); the event types it names must be in the catalogue.
    "createWebhookEndpoint": frozenset({"unsafe_url"}),
    "updateWebhookEndpoint": frozenset({"unsafe_url"}),
    # A schema says "a binary file", not "a PDF with a certificate's text in it".
    "readSellerCertificate": frozenset(
        {
            "empty_file",
            "not_a_pdf",
            "encrypted_pdf",
            "unreadable_pdf",
            "no_text",
            "no_certificate_fields",
        }
    ),
}
