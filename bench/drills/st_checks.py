"""Schemathesis checks of our own, loaded with ``SCHEMATHESIS_HOOKS=bench.drills.st_checks``."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

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
