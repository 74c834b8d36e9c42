"""Schemathesis checks of our own, loaded with ``SCHEMATHESIS_HOOKS=bench.drills.st_checks``."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

from bench.drills.fuzz_rules import RULE_REFUSALS

PROBLEM_FIELDS = ("type", "title", "status", "code")


@schemathesis.check
def problem_document(ctx: Any, response: Any, case: Any) -> None:
    """Every error answer is an RFC 9457 problem document (``application/problem+json`` with
    ``type``, ``title``, ``status`` matching the HTTP status, and our stable ``code``)."""
    if response.status_code < 400:
        return
    content_type = ";".join(response.headers.get("content-type", []))
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(
            f"{response.status_code} answered as {content_type or 'no content type'}, "
            "not application/problem+json"
        )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} problem document is not JSON") from exc
    missing = [name for name in PROBLEM_FIELDS if name not in body]
    if missing:
        raise AssertionError(f"{response.status_code} problem document lacks {missing}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} != HTTP {response.status_code}")


@schemathesis.check
def refused_only_by_rules(ctx: Any, response: Any, case: Any) -> None:
    """A schema-valid request that an operation of ``RULE_REFUSALS`` refuses with 422 names only
    rules the schema cannot state (their codes), never a field the schema said was valid."""
    meta = getattr(case, "meta", None)
    if response.status_code != 422 or meta is None or not meta.generation.mode.is_positive:
        return
    operation_id = case.operation.definition.raw.get("operationId")
    allowed = RULE_REFUSALS.get(operation_id)
    if allowed is None:
        return  # positive_data_acceptance judges the other operations
    problem = json.loads(response.content)
    errors = problem.get("errors") or []
    # A refusal no one field explains has its own problem code and no field list.
    codes = {error.get("code") for error in errors} or {problem.get("code")}
    if not codes or not codes <= allowed:
        named = ", ".join(f"{e.get('field')}: {e.get('code')} ({e.get('message')})" for e in errors)
        named = named or str(problem.get("code"))
        raise AssertionError(
            f"Valid data should have been accepted: 422 for {named}; only "
            f"{sorted(allowed)} may refuse valid data here"
        )
