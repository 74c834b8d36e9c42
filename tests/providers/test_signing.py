"""Webhook signatures: Standard Webhooks interoperability and the hex HMAC scheme."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from providers import (
    BadSignature,
    MalformedHeaders,
    MissingHeaders,
    SignatureScheme,
    StaleTimestamp,
    dedupe_key,
    sign,
    sign_hex,
    signature_headers,
    verify,
    verify_hex,
    verify_signature,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
NOW = 1_614_265_330
BODY = b'{"test": 2432232314}'


def _library_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signature = Webhook(secret).sign(
        msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode()
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_signer_matches_known_answer_computed_with_standardwebhooks() -> None:
    # Computed once with standardwebhooks 1.1.0 (Webhook(SECRET).sign(...)).
    assert sign(SECRET, MSG_ID, NOW, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_hex_signer_matches_known_answer() -> None:
    # hmac.new(b"k", b'1700000000.{"a":1}', sha256).hexdigest()
    expected = "1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3"
    assert sign_hex("k", 1_700_000_000, b'{"a":1}') == expected


def test_signature_from_the_standardwebhooks_library_is_accepted() -> None:
    verify([SECRET], _library_headers(SECRET, MSG_ID, NOW, BODY), BODY, now=NOW)


def test_our_signature_is_accepted_by_the_standardwebhooks_library() -> None:
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers([SECRET], MSG_ID, now, BODY)
    Webhook(SECRET).verify(BODY, headers)


@given(body=st.binary(max_size=512), msg_id=st.text("abcdef0123456789_", min_size=1))
def test_any_body_signed_by_the_library_verifies(body: bytes, msg_id: str) -> None:
    # The library signs text, so restrict to bodies that are valid UTF-8.
    text = body.decode("utf-8", errors="ignore").encode()
    verify([SECRET], _library_headers(SECRET, msg_id, NOW, text), text, now=NOW)


def test_header_names_are_case_insensitive() -> None:
    headers = {k.upper(): v for k, v in _library_headers(SECRET, MSG_ID, NOW, BODY).items()}
    verify([SECRET], headers, BODY, now=NOW)


def test_tampered_body_is_rejected() -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY)
    with pytest.raises(BadSignature):
        verify([SECRET], headers, BODY + b" ", now=NOW)


def test_tampered_message_id_is_rejected() -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY) | {"webhook-id": "msg_other"}
    with pytest.raises(BadSignature):
        verify([SECRET], headers, BODY, now=NOW)


def test_wrong_secret_is_rejected() -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY)
    with pytest.raises(BadSignature):
        verify([OTHER_SECRET], headers, BODY, now=NOW)


def test_no_configured_secret_rejects_everything() -> None:
    with pytest.raises(BadSignature):
        verify([], _library_headers(SECRET, MSG_ID, NOW, BODY), BODY, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86_400])
def test_timestamps_outside_five_minutes_are_rejected(offset: int) -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW + offset, BODY)
    with pytest.raises(StaleTimestamp):
        verify([SECRET], headers, BODY, now=NOW)


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_timestamps_at_the_edge_of_the_tolerance_are_accepted(offset: int) -> None:
    verify([SECRET], _library_headers(SECRET, MSG_ID, NOW + offset, BODY), BODY, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_reported(missing: str) -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY)
    del headers[missing]
    with pytest.raises(MissingHeaders):
        verify([SECRET], headers, BODY, now=NOW)


def test_non_numeric_timestamp_is_malformed() -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY) | {"webhook-timestamp": "yesterday"}
    with pytest.raises(MalformedHeaders):
        verify([SECRET], headers, BODY, now=NOW)


def test_signature_without_version_is_malformed() -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY) | {"webhook-signature": "abc"}
    with pytest.raises(MalformedHeaders):
        verify([SECRET], headers, BODY, now=NOW)


def test_one_matching_signature_among_several_is_enough() -> None:
    good = sign(SECRET, MSG_ID, NOW, BODY)
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(NOW),
        "webhook-signature": f"v1,bm90LWl0 v1a,ignored-asymmetric {good} v1,%%%",
    }
    verify([SECRET], headers, BODY, now=NOW)


def test_rotation_accepts_the_old_and_the_new_secret() -> None:
    signed_with_old = _library_headers(SECRET, MSG_ID, NOW, BODY)
    signed_with_new = _library_headers(OTHER_SECRET, MSG_ID, NOW, BODY)
    for headers in (signed_with_old, signed_with_new):
        verify([OTHER_SECRET, SECRET], headers, BODY, now=NOW)


def test_sender_signing_with_both_secrets_during_rotation_is_accepted_by_either() -> None:
    headers = signature_headers([SECRET, OTHER_SECRET], MSG_ID, NOW, BODY)
    assert len(headers["webhook-signature"].split()) == 2
    verify([OTHER_SECRET], headers, BODY, now=NOW)
    verify([SECRET], headers, BODY, now=NOW)


def _hex_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"X-Timestamp": str(timestamp), "X-Signature": sign_hex(secret, timestamp, body)}


def test_hex_scheme_round_trips_and_supports_rotation() -> None:
    verify_hex(["old", "new"], _hex_headers("new", NOW, BODY), BODY, now=NOW)
    verify_signature("hex-hmac-sha256", ["old"], _hex_headers("old", NOW, BODY), BODY, now=NOW)


def test_hex_scheme_rejects_tampering_staleness_and_missing_headers() -> None:
    with pytest.raises(BadSignature):
        verify_hex(["k"], _hex_headers("k", NOW, BODY), BODY + b"x", now=NOW)
    with pytest.raises(BadSignature):
        verify_hex(["other"], _hex_headers("k", NOW, BODY), BODY, now=NOW)
    with pytest.raises(StaleTimestamp):
        verify_hex(["k"], _hex_headers("k", NOW - 301, BODY), BODY, now=NOW)
    with pytest.raises(StaleTimestamp):
        verify_hex(["k"], _hex_headers("k", NOW + 301, BODY), BODY, now=NOW)
    with pytest.raises(MissingHeaders):
        verify_hex(["k"], {"X-Signature": "00" * 32}, BODY, now=NOW)
    with pytest.raises(MalformedHeaders):
        verify_hex(["k"], {"X-Signature": "zz", "X-Timestamp": str(NOW)}, BODY, now=NOW)


def test_hex_signature_does_not_verify_under_another_timestamp() -> None:
    headers = _hex_headers("k", NOW, BODY) | {"X-Timestamp": str(NOW + 1)}
    with pytest.raises(BadSignature):
        verify_hex(["k"], headers, BODY, now=NOW)


def test_verify_signature_dispatches_standard_webhooks() -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY)
    verify_signature("standard-webhooks", [SECRET], headers, BODY, now=NOW)


def test_the_dedupe_key_of_standard_webhooks_is_the_signed_webhook_id() -> None:
    headers = _library_headers(SECRET, MSG_ID, NOW, BODY)
    assert dedupe_key("standard-webhooks", headers, BODY) == MSG_ID
    assert dedupe_key("standard-webhooks", {"Webhook-Id": "msg_2"}, BODY) == "msg_2"


def test_the_hex_dedupe_key_ignores_any_webhook_id_and_spelling_of_the_timestamp() -> None:
    signed = _hex_headers("k", NOW, BODY)
    variants = [
        signed | {"webhook-id": "msg_forged"},
        signed | {"Webhook-Id": "msg_other"},
        signed | {"X-Timestamp": f" +00{NOW} "},  # one number, one signature: one message
    ]
    for headers in variants:
        verify_hex(["k"], headers, BODY, now=NOW)  # each is as authentic as the original
    keys = {dedupe_key("hex-hmac-sha256", headers, BODY) for headers in [signed, *variants]}
    [key] = keys
    assert key.startswith("hex-hmac-sha256:")
    assert (
        key.removeprefix("hex-hmac-sha256:")
        == hashlib.sha256(f"{NOW}.".encode() + BODY).hexdigest()
    )


def test_the_hex_dedupe_key_differs_for_another_body_or_timestamp() -> None:
    key = dedupe_key("hex-hmac-sha256", _hex_headers("k", NOW, BODY), BODY)
    assert dedupe_key("hex-hmac-sha256", _hex_headers("k", NOW + 1, BODY), BODY) != key
    assert dedupe_key("hex-hmac-sha256", _hex_headers("k", NOW, BODY + b" "), BODY + b" ") != key


@pytest.mark.parametrize(
    ("scheme", "headers", "error"),
    [
        ("standard-webhooks", {}, MissingHeaders),
        ("hex-hmac-sha256", {"webhook-id": "msg_1"}, MissingHeaders),
        ("hex-hmac-sha256", {"x-timestamp": "now"}, MalformedHeaders),
    ],
)
def test_a_dedupe_key_needs_what_the_scheme_signs(
    scheme: SignatureScheme, headers: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        dedupe_key(scheme, headers, BODY)
