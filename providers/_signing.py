"""Webhook signatures: Standard Webhooks, and a plain hex HMAC scheme some partners use.

Pure functions: the caller passes the current time (``now``, Unix seconds) and the raw body
bytes exactly as received. Verification raises a subclass of :class:`SignatureError`, so the
webhook endpoint can answer 400/401 with a stable reason and never a 500.

Standard Webhooks (https://www.standardwebhooks.com/): headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` holding one or more
space-separated ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``; secrets are
``whsec_<base64 key>``.

``hex-hmac-sha256``: headers ``x-timestamp`` (Unix seconds) and ``x-signature`` holding the
lower-case hex HMAC-SHA256 of ``"timestamp.body"`` (the timestamp is signed too, so an old
signature cannot be replayed with a fresh timestamp); the secret is used as UTF-8 bytes.

A verified delivery is recognised when it comes again by :func:`dedupe_key`, which each scheme
derives from what it signs: an unsigned header can be changed by anyone who saw the delivery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from providers._protocol import SignatureScheme

__all__ = [
    "BadSignature",
    "MalformedHeaders",
    "MissingHeaders",
    "SignatureError",
    "StaleTimestamp",
    "dedupe_key",
    "sign",
    "sign_hex",
    "signature_headers",
    "verify",
    "verify_hex",
    "verify_signature",
]

DEFAULT_TOLERANCE_SECONDS = 300
_SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
# Begins the dedupe key of a hex-signed delivery: a derived key then cannot equal an id a
# partner chose (a webhook-id, should the partner's scheme change) nor a key stored before keys
# were derived (the bare SHA-256 of a body), and an operator can tell it is not the partner's.
_HEX_KEY_PREFIX = "hex-hmac-sha256:"


class SignatureError(Exception):
    """A webhook is not authentic (or cannot be checked); the message is safe to log."""


class MissingHeaders(SignatureError):
    """A header the scheme needs is absent or empty."""


class MalformedHeaders(SignatureError):
    """A header is present but not in the scheme's format."""


class StaleTimestamp(SignatureError):
    """The signed timestamp is outside the tolerance, in the past or in the future."""


class BadSignature(SignatureError):
    """No signature matches the body under any of the secrets."""


def _standard_key(secret: str) -> bytes:
    encoded = secret.removeprefix(_SECRET_PREFIX)
    try:
        # Secrets are sometimes issued without base64 padding; extra padding is ignored.
        key = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not whsec_<base64>") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _parse_timestamp(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise MalformedHeaders("timestamp header is not an integer") from exc


def _timestamp(raw: str, now: int, tolerance: int) -> int:
    timestamp = _parse_timestamp(raw)
    if timestamp < now - tolerance:
        raise StaleTimestamp("timestamp is too old")
    if timestamp > now + tolerance:
        raise StaleTimestamp("timestamp is in the future")
    return timestamp


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one message under one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """All three Standard Webhooks headers, signed with every secret (as during a rotation)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Return if one ``v1`` signature matches under one of ``secrets``; raise otherwise.

    Header names are matched case-insensitively. Signatures of other versions are ignored.
    Every comparison is constant-time.
    """
    lowered = _lower(headers)
    msg_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    raw_signatures = lowered.get("webhook-signature", "")
    if not (msg_id and raw_timestamp and raw_signatures):
        raise MissingHeaders("webhook-id, webhook-timestamp and webhook-signature are required")
    timestamp = _timestamp(raw_timestamp, now, tolerance)
    offered: list[bytes] = []
    for entry in raw_signatures.split():
        version, comma, value = entry.partition(",")
        if not comma:
            raise MalformedHeaders("webhook-signature entries must be <version>,<signature>")
        if version != "v1":
            continue
        try:
            offered.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue  # an undecodable signature simply matches nothing
    if not offered:
        raise BadSignature("no v1 signature")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
        # Compare against every candidate, so timing does not reveal which one matched.
        matched = False
        for candidate in offered:
            matched |= hmac.compare_digest(expected, candidate)
        if matched:
            return
    raise BadSignature("no signature matches")


def _hex_signed(timestamp: int, body: bytes) -> bytes:
    """What the ``hex-hmac-sha256`` scheme signs. The timestamp as a number, not as sent: the
    header may spell one number several ways (``0…``, ``+…``, spaces), all with one signature."""
    return f"{timestamp}.".encode() + body


def sign_hex(secret: str, timestamp: int, body: bytes) -> str:
    """The ``x-signature`` value of the ``hex-hmac-sha256`` scheme."""
    return hmac.new(secret.encode(), _hex_signed(timestamp, body), hashlib.sha256).hexdigest()


def verify_hex(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Return if ``x-signature`` matches under one of ``secrets``; raise otherwise."""
    lowered = _lower(headers)
    raw_timestamp = lowered.get("x-timestamp", "")
    signature = lowered.get("x-signature", "").strip().lower()
    if not (raw_timestamp and signature):
        raise MissingHeaders("x-timestamp and x-signature are required")
    if len(signature) != 64 or any(c not in "0123456789abcdef" for c in signature):
        raise MalformedHeaders("x-signature is not a hex SHA-256 HMAC")
    timestamp = _timestamp(raw_timestamp, now, tolerance)
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign_hex(secret, timestamp, body), signature)
    if not matched:
        raise BadSignature("no signature matches")


def verify_signature(
    scheme: SignatureScheme,
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Verify under the scheme an adapter declares (``adapter.signature_scheme``)."""
    if scheme == "standard-webhooks":
        verify(secrets, headers, body, now, tolerance)
    else:
        verify_hex(secrets, headers, body, now, tolerance)


def dedupe_key(scheme: SignatureScheme, headers: Mapping[str, str], body: bytes) -> str:
    """The key under which a delivery verified under ``scheme`` is stored once per partner.

    Two deliveries with one key are one message: the second is a duplicate, never applied again.
    The key is derived only from what the scheme signs, so no one without the secret can give a
    captured delivery a new key. Standard Webhooks signs ``webhook-id``: that id is the key.
    ``hex-hmac-sha256`` signs no id, only ``"timestamp.body"``: the key is ``hex-hmac-sha256:``
    and the hex SHA-256 of that, and a ``webhook-id`` header is ignored (a replay could carry any
    id). A partner's retry re-signed with a fresh timestamp is therefore a new message under it.

    Call it on a delivery :func:`verify_signature` accepted; header names in any case.
    """
    lowered = _lower(headers)
    if scheme == "standard-webhooks":
        msg_id = lowered.get("webhook-id", "")
        if not msg_id:
            raise MissingHeaders("webhook-id is required")
        return msg_id
    raw_timestamp = lowered.get("x-timestamp", "")
    if not raw_timestamp:
        raise MissingHeaders("x-timestamp is required")
    signed = _hex_signed(_parse_timestamp(raw_timestamp), body)
    return _HEX_KEY_PREFIX + hashlib.sha256(signed).hexdigest()
