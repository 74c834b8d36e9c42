"""The served OpenAPI document tells the truth: every operation lists the problem documents it
can answer with, their codes are ones the service raises, and bodies come with examples."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import accelerator
from accelerator.server.openapi import TITLES
from schemas import Problem

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
Document = dict[str, Any]
Operation = tuple[str, str, dict[str, Any]]  # path, method, operation
PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
async def document(client: Client) -> Document:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    served: Document = response.json()
    return served


def operations(document: Document) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def needs_api_key(document: Document, operation: dict[str, Any]) -> bool:
    return bool(operation.get("security", document.get("security")))


def problem_codes(operation: dict[str, Any], status: int) -> list[str]:
    """The codes an operation documents for ``status``, after checking that the response is a
    problem document: ``application/problem+json``, the Problem schema, its code pinned."""
    response = operation["responses"].get(str(status))
    assert response is not None, f"{operation['operationId']} does not document {status}"
    assert list(response["content"]) == [PROBLEM], (operation["operationId"], status)
    schema = response["content"][PROBLEM]["schema"]
    problem, pinned = schema["allOf"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    codes: list[str] = pinned["properties"]["code"]["enum"]
    assert codes, (operation["operationId"], status)
    return codes


def json_body(operation: dict[str, Any]) -> bool:
    """A body the service parses as JSON (the webhook's is raw bytes, in JSON or XML)."""
    content = operation.get("requestBody", {}).get("content", {})
    return operation["operationId"] != "receiveInsurerWebhook" and "application/json" in content


async def test_every_operation_that_takes_an_api_key_documents_the_401(
    document: Document,
) -> None:
    guarded = [op for _, _, op in operations(document) if needs_api_key(document, op)]
    assert len(guarded) > 20
    for operation in guarded:
        assert "unauthenticated" in problem_codes(operation, 401), operation["operationId"]


async def test_public_operations_say_so_and_name_no_key(document: Document) -> None:
    public = {
        op["operationId"]: op for _, _, op in operations(document) if op.get("security") == []
    }
    assert set(public) == {
        "getLiveness",
        "getReadiness",
        "receiveInsurerWebhook",
        # A certificate's live link: the unguessable link is the credential.
        "getCertificateStatus",
    }
    assert "401" not in public["getLiveness"]["responses"]
    # The webhook's 401 is its signature's, not an API key's.
    assert problem_codes(public["receiveInsurerWebhook"], 401) == ["bad_webhook_signature"]


async def test_every_json_body_documents_400_413_415_and_422(document: Document) -> None:
    with_body = [op for _, _, op in operations(document) if json_body(op)]
    assert len(with_body) >= 10
    for operation in with_body:
        assert problem_codes(operation, 400) == ["malformed_json", "json_too_deep"]
        assert problem_codes(operation, 413) == ["payload_too_large"]
        assert problem_codes(operation, 415) == ["unsupported_media_type"]
        assert "validation_error" in problem_codes(operation, 422)


async def test_every_path_id_documents_its_404(document: Document) -> None:
    for path, _, operation in operations(document):
        if "{" in path:
            assert "not_found" in problem_codes(operation, 404), operation["operationId"]


async def test_role_guards_document_their_403(document: Document) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(document)}
    assert problem_codes(by_id["verifyPolicy"], 403) == ["forbidden"]
    assert "Roles: admin." in by_id["verifyPolicy"]["description"]
    # Every role may read its own identity: nothing to refuse.
    assert "403" not in by_id["getMe"]["responses"]


async def test_every_error_response_is_a_problem_document_with_an_example_per_code(
    document: Document,
) -> None:
    for _, _, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or operation["operationId"] == "getReadiness":
                continue  # readiness answers 503 with its Health body, documented as such
            codes = problem_codes(operation, int(status))
            examples = response["content"][PROBLEM]["examples"]
            assert sorted(examples) == sorted(codes), operation["operationId"]
            for code, example in examples.items():
                problem = msgspec.convert(example["value"], Problem)
                assert (problem.code, problem.status) == (code, int(status))


async def test_litestar_s_own_400_body_is_not_documented(document: Document) -> None:
    # It documents {"status_code", "detail", "extra"} for any operation with parameters; we
    # answer validation problems with 422 problem documents instead. Raw bodies (a signed
    # webhook, a multipart upload) have 400s of their own, as problem documents.
    raw = {"receiveInsurerWebhook", "readSellerCertificate"}
    for _, _, operation in operations(document):
        if not json_body(operation) and operation["operationId"] not in raw:
            assert "400" not in operation["responses"], operation["operationId"]


async def test_declared_codes_are_documented_where_the_service_raises_them(
    document: Document,
) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(document)}
    bind = by_id["bindOffer"]
    assert "request_already_bound" in problem_codes(bind, 409)
    assert "idempotency_key_reused" in problem_codes(bind, 422)
    assert problem_codes(bind, 502) == ["insurer_bind_failed"]
    assert "offer_not_found" in problem_codes(bind, 404)
    assert set(bind["responses"]) >= {"201", "202"}
    assert set(by_id["createQuoteRequest"]["responses"]) >= {"200", "202"}
    assert problem_codes(by_id["reprocessWebhook"], 409) == [
        "delivery_in_progress",
        "delivery_purged",
    ]
    # Its body may be left out (it has a default); the others' may not.
    assert by_id["bindOffer"]["requestBody"]["required"] is False
    assert by_id["checkCoverage"]["requestBody"]["required"] is True


def raised_codes() -> set[str]:
    """Every string constant in the service's code, and the codes ``NotFound(what)`` and
    ``not_found(what)`` make of theirs: a documented code must be one of them. What documents
    codes does not count: the handlers' ``declares(...)`` and the document's table of titles."""
    constants: set[str] = set()
    for source in Path(accelerator.__file__).parent.rglob("*.py"):
        if source.parts[-2:] == ("server", "openapi.py"):
            continue
        tree = ast.parse(source.read_text())
        declarations = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "declares"
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in declarations:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") in {"NotFound", "not_found"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                constants.add(f"{node.args[0].value}_not_found")
    return constants


async def test_every_documented_code_is_one_the_service_raises(document: Document) -> None:
    known = raised_codes()
    documented = {
        code
        for _, _, operation in operations(document)
        for status in operation["responses"]
        if int(status) >= 400 and operation["operationId"] != "getReadiness"
        for code in problem_codes(operation, int(status))
    }
    assert len(documented) > 20
    assert documented <= known, documented - known
    # Each has the title the service answers it with, for its example.
    untitled = {c for c in documented if c not in TITLES and not c.endswith("_not_found")}
    assert untitled == set()


async def test_batch_items_are_documented_as_coverage_check_requests(
    document: Document,
) -> None:
    checks = document["components"]["schemas"]["CoverageBatchBody"]["properties"]["checks"]
    assert checks["items"] == {"$ref": "#/components/schemas/CoverageCheckRequest"}
    assert checks["maxItems"] == 1000


async def test_the_webhook_documents_its_raw_signed_body_and_headers(document: Document) -> None:
    webhook = document["paths"]["/v1/webhooks/insurers/{provider_id}"]["post"]
    body = webhook["requestBody"]
    assert set(body["content"]) == {"application/json", "application/xml"}
    assert body["content"]["application/xml"]["examples"]["example"]["value"].startswith("<?xml")
    headers = {p["name"] for p in webhook["parameters"] if p["in"] == "header"}
    assert headers >= {"webhook-id", "webhook-timestamp", "webhook-signature", "x-signature"}


async def test_provider_and_attempt_views_are_typed(document: Document) -> None:
    schemas = document["components"]["schemas"]
    provider = schemas["ProviderInfo"]["properties"]
    assert provider["breaker"] == {"$ref": "#/components/schemas/BreakerState"}
    assert provider["signature_scheme"]["enum"] == ["standard-webhooks", "hex-hmac-sha256"]
    assert schemas["InsurerAttempt"]["properties"]["started_at"]["format"] == "date-time"


async def test_every_json_body_and_success_answer_has_an_example(document: Document) -> None:
    missing = []
    for _, _, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        missing += [
            (operation["operationId"], "request") for m in content.values() if not m.get("examples")
        ]
        for status, response in operation["responses"].items():
            if re.fullmatch(r"2\d\d", status):
                for media in (response.get("content") or {}).values():
                    if not media.get("examples"):
                        missing.append((operation["operationId"], status))
    assert missing == []


async def test_structs_that_refuse_unknown_fields_say_so(document: Document) -> None:
    schemas = document["components"]["schemas"]
    for name in ("CoverageCheckRequest", "SellerFacts", "Money", "BindBody"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["CoverageDecision"]  # tolerant: not ours to read


async def test_constraints_inside_lists_and_optional_values_are_documented(
    document: Document,
) -> None:
    schemas = document["components"]["schemas"]
    territories = schemas["CertificateSubmission"]["properties"]["territories"]
    assert territories["items"]["pattern"] == "^[A-Z]{2}$"
    deadline = schemas["QuoteRequestBody"]["properties"]["deadline_seconds"]["oneOf"][0]
    assert (deadline["exclusiveMinimum"], deadline["maximum"]) == (0, 120)
