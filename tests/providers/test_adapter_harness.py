"""One data-driven harness for every adapter (the prebid-server pattern).

Each JSON file under ``fixtures/<adapter>/exemplary/`` or ``fixtures/<adapter>/supplemental/``
is one scenario: a canonical request, the insurer HTTP exchanges the adapter should cause (the
expected request and the insurer's mock response), and the steps to run with their expected
results. ``<adapter>`` is the adapter's entry-point name, so a new adapter's fixtures need no
test code at all; an adapter that is not installed as an entry point can be added to
``EXTRA_ADAPTERS`` with one line.

- Calls are matched to the fixture's exchanges in any order; every exchange must be used once.
- The adapter must not mutate its inputs (compared as builtins before and after).
- Exemplary scenarios must produce no error; supplemental ones cover failures and edge cases.

Fixture keys: ``description``; ``provider_id`` (default: the adapter name); ``settings``
(merged over ``DEFAULT_SETTINGS``); ``request`` (a QuoteRequest); ``offer`` and ``bind`` (for
bind steps); ``http``: ``[{"request": {method, path, headers (subset, case-insensitive), one of
json | xml | body: null}, "response": {status, headers, one of json | text}}]``; ``steps``:
``[{"operation": "quote" | "poll" | "bind" | "events", "reference" (poll), "webhook"
(events: {headers, json | text}), "expected": {"kind": <result class name>, ...fields} or
{"kind": "MalformedResponse", "reason_contains": "..."}}]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import msgspec
import pytest

import providers
from providers import (
    AdapterFactory,
    BindRequest,
    HttpCall,
    HttpReply,
    InsurerAdapter,
    MalformedResponse,
    ProviderSettings,
    available_adapters,
)
from schemas import Offer, QuoteRequest

# Inside the package, so that a conformance check finds them in an installed service too.
FIXTURES = Path(providers.__file__).parent / "fixtures"
EXTRA_ADAPTERS: dict[str, AdapterFactory] = {}
DEFAULT_SETTINGS: dict[str, Any] = {
    "base_url": "https://insurer.test",
    "api_key": "test-key",
    "callback_url": "https://accelerator.test/v1/webhooks/insurers/test",
    "callback_secrets": ["whsec_dGVzdC1zZWNyZXQ="],
}


def _fixture_files() -> list[Any]:
    return [
        pytest.param(path, id=str(path.relative_to(FIXTURES).with_suffix("")))
        for path in sorted(FIXTURES.glob("*/*/*.json"))
    ]


def _xml_shape(node: Element) -> tuple[Any, ...]:
    # Whitespace between elements is formatting, not content.
    return (
        node.tag,
        sorted(node.attrib.items()),
        (node.text or "").strip(),
        [_xml_shape(child) for child in node],
    )


def _body_matches(actual: bytes | None, expected: dict[str, Any]) -> bool:
    if "json" in expected:
        return actual is not None and json.loads(actual) == expected["json"]
    if "xml" in expected:
        return actual is not None and _xml_shape(SafeET.fromstring(actual)) == _xml_shape(
            SafeET.fromstring(expected["xml"].encode())
        )
    return actual is None


def _call_matches(call: HttpCall, expected: dict[str, Any]) -> bool:
    headers = {name.lower(): value for name, value in call.headers.items()}
    return (
        call.method == expected["method"]
        and call.path == expected["path"]
        and all(headers.get(k.lower()) == v for k, v in expected.get("headers", {}).items())
        and _body_matches(call.body, expected)
    )


def _reply(response: dict[str, Any]) -> HttpReply:
    if "json" in response:
        body = json.dumps(response["json"]).encode()
    else:
        body = response.get("text", "").encode()
    return HttpReply(response["status"], response.get("headers", {}), body)


class Exchanges:
    """The fixture's mock insurer: answers each call with the matching, unused exchange."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self._unused = list(exchanges)

    def answer(self, call: HttpCall) -> HttpReply:
        for exchange in self._unused:
            if _call_matches(call, exchange["request"]):
                self._unused.remove(exchange)
                return _reply(exchange["response"])
        body = call.body.decode() if call.body else None
        pytest.fail(f"no fixture exchange matches {call.method} {call.path} body={body}")

    def assert_all_used(self) -> None:
        assert not self._unused, f"exchanges never called: {[e['request'] for e in self._unused]}"


def _as_builtins(result: object) -> dict[str, Any]:
    if isinstance(result, list):
        return {"kind": "Events", "events": msgspec.to_builtins(result)}
    built = msgspec.to_builtins(result)
    assert isinstance(built, dict)
    return {"kind": type(result).__name__, **built}


def _adapter_for(path: Path) -> tuple[str, AdapterFactory]:
    name = path.parent.parent.name
    factories = {**available_adapters(), **EXTRA_ADAPTERS}
    assert name in factories, f"fixtures for {name!r}, which is not a registered adapter"
    return name, factories[name]


def _run_step(
    adapter: InsurerAdapter,
    step: dict[str, Any],
    inputs: dict[str, Any],
    fixture: dict[str, Any],
    settings: ProviderSettings,
    exchanges: Exchanges,
) -> Callable[[], object]:
    """Build the step's call now; parse its reply when the returned function runs."""
    request: QuoteRequest = inputs["request"]
    operation = step["operation"]
    if operation == "quote":
        call = adapter.quote_call(request, settings)
        return lambda: adapter.parse_quote(request, exchanges.answer(call))
    if operation == "poll":
        poll = adapter.poll_call(step["reference"], settings)
        assert poll is not None, "poll step for an adapter without polling"
        return lambda: adapter.parse_quote(request, exchanges.answer(poll))
    if operation == "bind":
        offer: Offer = inputs["offer"]
        call = adapter.bind_call(offer, BindRequest(**fixture["bind"]), settings)
        return lambda: adapter.parse_bind(offer, exchanges.answer(call))
    webhook = step["webhook"]
    body = json.dumps(webhook["json"]).encode() if "json" in webhook else webhook["text"].encode()
    return lambda: list(adapter.parse_events(body, webhook.get("headers", {})))


@pytest.mark.parametrize("path", _fixture_files())
def test_adapter_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    name, factory = _adapter_for(path)
    settings = msgspec.convert(
        {**DEFAULT_SETTINGS, **fixture.get("settings", {})}, ProviderSettings
    )
    adapter = factory(fixture.get("provider_id", name), settings)
    assert isinstance(adapter, InsurerAdapter)
    exemplary = path.parent.name == "exemplary"
    inputs: dict[str, Any] = {"request": msgspec.convert(fixture["request"], QuoteRequest)}
    if "offer" in fixture:
        inputs["offer"] = msgspec.convert(fixture["offer"], Offer)
    before = {k: msgspec.to_builtins(v) for k, v in inputs.items()}
    exchanges = Exchanges(fixture.get("http", []))

    for index, step in enumerate(fixture["steps"]):
        expected = step["expected"]
        run = _run_step(adapter, step, inputs, fixture, settings, exchanges)
        if expected["kind"] == "MalformedResponse":
            assert not exemplary, f"step {index}: exemplary fixtures must not expect errors"
            with pytest.raises(MalformedResponse) as raised:
                run()
            assert expected["reason_contains"] in str(raised.value)
        else:
            assert _as_builtins(run()) == expected, f"step {index} ({step['operation']})"

    exchanges.assert_all_used()
    after = {k: msgspec.to_builtins(v) for k, v in inputs.items()}
    assert after == before, "the adapter mutated its input"


def test_every_registered_adapter_has_exemplary_fixtures() -> None:
    for name in {"harbor", "meridian", "acord", "canonical"}:
        assert list((FIXTURES / name / "exemplary").glob("*.json")), name
