"""Meridian-style callbacks signed by the `standardwebhooks` package (an independent signer)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

OLD_SECRET = "whsec_" + "b2xkLXNlY3JldC1vZi10aGUtcGFydG5lci0xMjM0"
NEW_SECRET = "whsec_" + "bmV3LXNlY3JldC1vZi10aGUtcGFydG5lci01Njc4"
HEX_SECRET = "acorn-callback-secret"
POLICY_NUMBER = "MSI-GL-2026-000777"


def envelope(event_type: str, payload: dict[str, Any], *, occurred_at: str, seq: int) -> bytes:
    body = {
        "eventId": f"evt_{uuid.uuid4().hex[:12]}",
        "eventType": event_type,
        "occurredAt": occurred_at,
        "seq": seq,
        "payload": payload,
    }
    return json.dumps(body).encode()


def signed_headers(
    body: bytes,
    *,
    secret: str = NEW_SECRET,
    msg_id: str | None = None,
    timestamp: float | None = None,
) -> dict[str, str]:
    """Headers as a partner using the `standardwebhooks` library sends them."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def hex_signed_headers(
    body: bytes, *, secret: str = HEX_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Headers as an ACORD-style partner signs them (``hex-hmac-sha256``): no message id."""
    at = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256)
    return {
        "x-timestamp": at,
        "x-signature": digest.hexdigest(),
        "content-type": "application/xml",
    }


def quoted(submission_id: str, *, occurred_at: str, seq: int, premium_minor: int = 168000) -> bytes:
    quote = {
        "quoteId": f"{submission_id}-OCC-{seq}",
        "insurer": {"name": "Meridian Specialty Insurance Company", "rating": "A+"},
        "ccy": "USD",
        "premiumMinor": premium_minor,
        "taxMinor": 5040,
        "feeMinor": 20000,
        "form": "OCC",
        "occurrenceLimitMinor": 100000000,
        "aggregateLimitMinor": 200000000,
        "productsAggregateMinor": 200000000,
        "deductibleMinor": 250000,
        "additionalInsured": {
            "name": "Amazon.com Services LLC",
            "wording": "Amazon.com Services LLC and its affiliates and assignees",
            "formRef": "CG 20 15 04 13",
        },
        "certificateHolderOnly": False,
        "territories": ["US"],
        "productClasses": ["electronics/power-banks"],
        "exclusions": [],
        "noticeDays": 30,
        "inception": "2026-12-01",
        "expiry": "2027-12-01",
        "validUntil": "2027-01-30T00:00:00Z",
        "bindable": True,
    }
    payload = {"submissionId": submission_id, "state": "quoted", "quotes": [quote]}
    return envelope("submission.quoted", payload, occurred_at=occurred_at, seq=seq)


def declined(submission_id: str, *, occurred_at: str, seq: int) -> bytes:
    payload = {
        "submissionId": submission_id,
        "state": "declined",
        "declineCode": "outside_appetite",
        "declineText": "Lithium batteries are outside our appetite.",
    }
    return envelope("submission.declined", payload, occurred_at=occurred_at, seq=seq)


def bound(
    bind_id: str,
    *,
    occurred_at: str,
    seq: int,
    number: str = POLICY_NUMBER,
    effective_at: str = "2026-12-01T08:01:00Z",
    expires_at: str = "2027-12-01T08:01:00Z",
) -> bytes:
    policy = {
        "policyNumber": number,
        "insurer": {"name": "Meridian Specialty Insurance Company", "rating": "A+"},
        "insuredName": "Volt Goods LLC",
        "ccy": "USD",
        "form": "OCC",
        "occurrenceLimitMinor": 100000000,
        "aggregateLimitMinor": 200000000,
        "productsAggregateMinor": 200000000,
        "deductibleMinor": 250000,
        "additionalInsureds": ["Amazon.com Services LLC and its affiliates and assignees"],
        "territories": ["US"],
        "productClasses": ["electronics/power-banks"],
        "effectiveAt": effective_at,
        "expiresAt": expires_at,
        "noticeDays": 30,
        "premiumTotalMinor": 193040,
    }
    payload = {"bindId": bind_id, "state": "bound", "policy": policy}
    return envelope("bind.completed", payload, occurred_at=occurred_at, seq=seq)


def policy_change(
    event_type: str,
    effective_at: str,
    *,
    occurred_at: str,
    seq: int,
    number: str = POLICY_NUMBER,
    **extra: str,
) -> bytes:
    payload = {"policyNumber": number, "effectiveAt": effective_at, **extra}
    return envelope(event_type, payload, occurred_at=occurred_at, seq=seq)
