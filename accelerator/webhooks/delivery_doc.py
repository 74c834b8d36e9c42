"""How the OpenAPI document shows an insurer's delivery (``POST /v1/webhooks/insurers/...``):
raw bytes in the insurer's own format, and the headers each signing scheme reads."""

from __future__ import annotations

from accelerator.infra.openapi import HeaderDoc, RawBody
from accelerator.webhooks.service import MAX_BODY_BYTES

# Read as raw bytes (the signature covers them exactly), in the insurer's own format.
WEBHOOK_BODY = RawBody(
    description=(
        "The insurer's event in its own format (JSON for Standard Webhooks partners, ACORD XML "
        f"for others), at most {MAX_BODY_BYTES:,} bytes, signed under the partner's scheme "
        "(`signature_scheme` in GET /v1/providers): see docs/webhooks.md."
    ),
    examples={
        "application/json": (
            '{"eventId":"evt_7Qm2","eventType":"policy.cancelled",'
            '"occurredAt":"2026-11-26T10:00:00Z","seq":7,"payload":{"policyNumber":'
            '"MSI-GL-2026-000003","effectiveAt":"2026-12-01T08:01:00Z","reason":"non-payment"}}'
        ),
        "application/xml": (
            '<?xml version="1.0"?><ACORD><PolicyNotificationRq>'
            "<NotificationTypeCd>CANCEL</NotificationTypeCd>"
            "<PolicyNumber>ACC-GL-2026-000002</PolicyNumber>"
            "<OccurredDtTm>2026-05-01T09:00:00Z</OccurredDtTm>"
            "<EffectiveDtTm>2026-05-31T07:01:00Z</EffectiveDtTm><SeqNum>3</SeqNum>"
            "<ReasonDesc>underwriting reasons</ReasonDesc></PolicyNotificationRq></ACORD>"
        ),
    },
    headers=(
        HeaderDoc(
            "webhook-id",
            "Standard Webhooks: the message id, the same on every retry (the dedupe key).",
        ),
        HeaderDoc("webhook-timestamp", "Standard Webhooks: Unix seconds when it was signed."),
        HeaderDoc(
            "webhook-signature",
            "Standard Webhooks: space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.",
        ),
        HeaderDoc("x-timestamp", "hex-hmac-sha256: Unix seconds when it was signed."),
        HeaderDoc(
            "x-signature", "hex-hmac-sha256: lower-case hex HMAC-SHA256 of `timestamp.body`."
        ),
    ),
)

__all__ = ["WEBHOOK_BODY"]
