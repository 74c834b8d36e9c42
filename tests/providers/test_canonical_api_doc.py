"""Every example of docs/canonical-api.md is read by the canonical adapter (or the service's
settings reader) without an error, so the partner's contract cannot drift from the code."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from accelerator.insurers.partners import provider_settings
from providers import (
    BindPending,
    BindRefused,
    BindRequest,
    Bound,
    HttpReply,
    Offered,
    ProviderSettings,
    build_adapters,
)
from providers.canonical import CanonicalAdapter
from providers.sandbox import KEYSTONE_APPETITE
from schemas import QuoteRequest

DOC = Path(__file__).resolve().parents[2] / "docs" / "canonical-api.md"
# A marker comment, then the fenced block it describes.
EXAMPLE = re.compile(r"<!-- example: ([a-z-]+)(?: (\d{3}))? -->\n```(\w+)\n(.*?)\n```", re.S)
SETTINGS = ProviderSettings(base_url="https://insurer.test", appetite=KEYSTONE_APPETITE)


def examples(kind: str) -> list[tuple[int | None, str]]:
    found = [
        (int(status) if status else None, body)
        for marker, status, _, body in EXAMPLE.findall(DOC.read_text())
        if marker == kind
    ]
    assert found, f"no {kind} example"
    return found


def adapter() -> CanonicalAdapter:
    return CanonicalAdapter("keystone", SETTINGS)


def request() -> QuoteRequest:
    [(_, body)] = examples("quote-request")
    return msgspec.json.decode(body, type=QuoteRequest)


def without_added_nulls(encoded: Any, example: Any) -> Any:
    """``encoded`` without the null fields the example lacks (optional fields added later)."""
    if isinstance(encoded, dict) and isinstance(example, dict):
        return {
            k: without_added_nulls(v, example.get(k))
            for k, v in encoded.items()
            if k in example or v is not None
        }
    if isinstance(encoded, list) and isinstance(example, list):
        return [without_added_nulls(e, x) for e, x in zip(encoded, example, strict=False)]
    return encoded


def test_every_json_example_is_marked_for_checking() -> None:
    text = DOC.read_text()
    fences = re.findall(r"```(json|toml)\n", text)
    assert len(fences) == len(EXAMPLE.findall(text))


def test_the_quote_request_example_is_what_the_adapter_sends() -> None:
    [(_, body)] = examples("quote-request")
    call = adapter().quote_call(request(), SETTINGS)
    assert call.body is not None
    assert without_added_nulls(json.loads(call.body), json.loads(body)) == json.loads(body)


def test_every_quote_answer_example_is_readable() -> None:
    kinds = set()
    for status, body in examples("quote-answer"):
        assert status is not None
        result = adapter().parse_quote(request(), HttpReply(status, {}, body.encode()))
        kinds.add(type(result).__name__)
    assert kinds == {"Offered", "Declined", "Referred", "Pending"}


def offered() -> Offered:
    status, body = examples("quote-answer")[0]
    result = adapter().parse_quote(request(), HttpReply(status or 200, {}, body.encode()))
    assert isinstance(result, Offered)
    return result


def test_the_bind_request_example_is_what_the_adapter_sends() -> None:
    [(_, body)] = examples("bind-request")
    example = json.loads(body)
    bind = BindRequest(
        request_id=example["request_id"],
        seller_id=example["seller_id"],
        named_insured=example["named_insured"],
        additional_insured_name=example["additional_insured_name"],
    )
    call = adapter().bind_call(offered().offers[0], bind, SETTINGS)
    assert call.body is not None
    assert json.loads(call.body) == example


def test_every_bind_answer_example_is_readable() -> None:
    offer = offered().offers[0]
    results = [
        adapter().parse_bind(offer, HttpReply(status or 200, {}, body.encode()))
        for status, body in examples("bind-answer")
    ]
    assert {type(r) for r in results} == {Bound, BindPending, BindRefused}


def test_every_event_example_is_readable_and_every_type_has_one() -> None:
    types = set()
    for _, body in examples("event"):
        events = adapter().parse_events(body.encode(), {})
        types |= {json.loads(msgspec.json.encode(e))["type"] for e in events}
    assert types == {
        "quote.offered",
        "quote.declined",
        "quote.referred",
        "policy.bound",
        "policy.endorsed",
        "policy.renewed",
        "policy.cancelled",
        "policy.reinstated",
        "policy.lapsed",
        "policy.verified",
    }


@pytest.mark.parametrize("index", [0, 1])
def test_the_configuration_examples_configure_a_canonical_partner(index: int) -> None:
    _, text = examples("config")[index]
    raw = json.loads(text) if index == 0 else tomllib.loads(text)["providers"]
    settings = provider_settings(raw)
    [built] = build_adapters(settings).values()
    assert isinstance(built, CanonicalAdapter)
    assert built.insurer_name == "Keystone Casualty Company"
    assert built.appetite.max_risk_score == 85


def test_the_json_and_toml_configuration_examples_agree() -> None:
    (_, as_json), (_, as_toml) = examples("config")
    assert provider_settings(json.loads(as_json)) == provider_settings(
        tomllib.loads(as_toml)["providers"]
    )
