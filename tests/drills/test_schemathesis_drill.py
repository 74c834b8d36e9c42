"""The schemathesis drill, in parts: each a share of the served document's operations, and each
a test of its own that the workers run side by side (tests/conftest.py gives every drill test
its own unit of work). Whole, it was the suite's longest test: 61-64 s alone on a quiet machine
and up to 345 s of one worker's time on a busy one, with the other workers idle at the end."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accelerator.server import create_app
from accelerator.settings import Settings
from bench.drills import DrillResult, fuzz
from tests.drills.conftest import Drill, failures

#: The parts, by operationId, about a third of the drill's time each (the per-operation times
#: of schemathesis's report, docs/performance.md). What no part names is fuzzed by the last,
#: "every other operation", so that an operation added to the service is fuzzed without being
#: listed here.
NAMED_PARTS: dict[str, frozenset[str]] = {
    "sellers-and-notifications": frozenset(
        {
            "submitSellerPolicy",
            "putSellerProfile",
            "getSellerProfile",
            "getSellerCompliance",
            "readSellerCertificate",
            "listSellerPolicies",
            "exportSellerAuditTrail",
            "listCategories",
            "listWebhookEndpoints",
            "createWebhookEndpoint",
            "getWebhookEndpoint",
            "deleteWebhookEndpoint",
            "updateWebhookEndpoint",
            "listNotificationAttempts",
            "listWebhookEndpointMessages",
            "replayNotificationMessage",
            "replayWebhookEndpoint",
            "rotateWebhookEndpointSecret",
        }
    ),
    "policies-and-webhooks": frozenset(
        {
            "recordPolicyEvent",
            "rejectPolicy",
            "linkPolicy",
            "verifyPolicy",
            "listPoliciesInReview",
            "getPolicyAsAdmin",
            "getPolicy",
            "getPolicyCertificate",
            "getPolicyRenewal",
            "getCertificateStatus",
            "receiveInsurerWebhook",
            "getWebhookInboxEntry",
            "listWebhookInbox",
            "reprocessWebhook",
            "reprocessWebhooks",
        }
    ),
}
OTHERS = "every-other-operation"


def selection(part: str) -> fuzz.Operations:
    if part == OTHERS:
        return fuzz.Operations(excluding=frozenset().union(*NAMED_PARTS.values()))
    return fuzz.Operations(only=NAMED_PARTS[part])


@functools.cache  # one app built per test process, not one per part (0.15 s of CPU each)
def served_operations() -> dict[str, str]:
    """Every operation of the served document: its operationId and its name in schemathesis's
    report ("METHOD /path")."""
    app = create_app(Settings(database_url="sqlite+aiosqlite://", sandbox_enabled=False))
    paths: dict[str, dict[str, Any]] = app.openapi_schema.to_schema()["paths"]
    return {
        operation["operationId"]: f"{method.upper()} {path}"
        for path, item in paths.items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def in_part(part: str, operations: dict[str, str]) -> set[str]:
    chosen = selection(part)
    return {
        name
        for operation_id, name in operations.items()
        if operation_id in chosen.only or (not chosen.only and operation_id not in chosen.excluding)
    }


def fuzzed(report: Path) -> Iterator[str]:
    """The operations schemathesis's junit report says it tested."""
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own run's file
        yield str(case.get("name"))


def test_the_parts_share_out_every_served_operation_once() -> None:
    operations = served_operations()
    named = [operation for part in NAMED_PARTS.values() for operation in part]
    assert len(named) == len(set(named)), "an operation is in two parts"
    assert set(named) <= set(operations), set(named) - set(operations)
    parts = [in_part(part, operations) for part in [*NAMED_PARTS, OTHERS]]
    assert sum(len(part) for part in parts) == len(operations)
    assert set().union(*parts) == set(operations.values())
    assert all(parts), "a part with nothing to fuzz"


@pytest.mark.parametrize("part", [*NAMED_PARTS, OTHERS])
def test_fuzzing_the_served_openapi_document_finds_nothing_it_does_not_promise(
    run_on_each: Callable[[Drill], dict[str, DrillResult]], tmp_path: Path, part: str
) -> None:
    # Every schemathesis check and ours (fuzz.py): no 5xx, no undocumented status, every answer
    # matching its schema, invalid data refused and valid data accepted, every error a problem.
    # The documented examples, boundary values of every field (the coverage phase: most of the
    # cases, and every operation's documented refusals) and random data; a fixed seed and 10
    # random cases per operation (25 before: the fuzzing phase was 40% of the drill). The long
    # drill (`python -m bench drill schemathesis`) adds more examples and stateful sequences.
    results = run_on_each(
        lambda url, logs: fuzz.run(
            url,
            logs,
            max_examples=10,
            seed=1,
            phases="examples,coverage,fuzzing",
            operations=selection(part),
        )
    )
    assert all(r.passed for r in results.values()), failures(results)
    # Each part tested exactly its share: together they test the whole document.
    expected = in_part(part, served_operations())
    for kind in results:
        assert set(fuzzed(tmp_path / kind / "schemathesis-junit.xml")) == expected, kind
