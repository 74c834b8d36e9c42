"""Adapter conformance, offline: run an adapter against its fixture scenarios.

A scenario is one JSON file: a canonical quote request, the insurer HTTP exchanges the adapter
should cause (the expected request and the insurer's answer), and steps (quote, poll, bind,
events) with their expected results. ``exemplary/`` scenarios are normal exchanges and must
produce no error; ``supplemental/`` ones cover declines, refusals and unreadable answers. The
format is described in ``docs/partners.md``; the service's own tests and ``accelerator partners
check`` both run scenarios through :func:`check_scenario`, so a partner's fixtures mean the
same in both places.

Keys: ``description``; ``provider_id`` (default: the adapter name); ``settings`` (merged over
:data:`DEFAULT_FIXTURE_SETTINGS`); ``request`` (a QuoteRequest); ``offer`` and ``bind`` (for
bind steps); ``http``: ``[{"request": {method, path, headers (a subset, any case), one of
json | xml | body: null}, "response": {status, headers, one of json | text}}]``; ``steps``:
``[{"operation": "quote" | "poll" | "bind" | "events", "reference" (poll), "webhook" (events:
{headers, json | text}), "expected": {"kind": <result class name>, ...its fields} or {"kind":
"MalformedResponse", "reason_contains": "..."}}]``. Calls may come in any order; each exchange
must be used exactly once.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import msgspec

from providers._protocol import (
    BindRequest,
    HttpCall,
    HttpReply,
    InsurerAdapter,
    MalformedResponse,
    ProviderSettings,
)
from providers._registry import AdapterFactory
from schemas import Offer, QuoteRequest

__all__ = [
    "DEFAULT_FIXTURE_SETTINGS",
    "ScenarioResult",
    "check_scenario",
    "fixture_directory",
    "scenario_files",
]

#: The settings every scenario starts from; a scenario's own ``settings`` are merged over them.
DEFAULT_FIXTURE_SETTINGS: dict[str, Any] = {
    "base_url": "https://insurer.test",
    "api_key": "test-key",
    "callback_url": "https://accelerator.test/v1/webhooks/insurers/test",
    "callback_secrets": ["whsec_dGVzdC1zZWNyZXQ="],
}

_BUILT_IN_FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's verdict: ``problem`` says what went wrong first, empty when it passed."""

    scenario: str
    problem: str = ""

    @property
    def passed(self) -> bool:
        return not self.problem


class _Mismatch(Exception):
    """The adapter did something the scenario does not expect."""


class _ScenarioError(ValueError):
    """The scenario file itself is wrong (reported as such, not as the adapter's failure)."""


def fixture_directory(adapter_name: str, factory: AdapterFactory) -> Path | None:
    """Where an adapter's scenarios live, if anywhere: a built-in adapter's under
    ``providers/fixtures/<name>/``; a plugin's in ``fixtures/`` beside its adapter's module."""
    built_in = _BUILT_IN_FIXTURES / adapter_name
    if built_in.is_dir():
        return built_in
    try:
        module_file = inspect.getfile(factory)
    except TypeError:  # a builtin or a callable instance: no module file to look beside
        return None
    beside = Path(module_file).parent / "fixtures"
    return beside if beside.is_dir() else None


def scenario_files(directory: Path) -> list[Path]:
    """The scenarios under ``directory``: ``exemplary/*.json`` then ``supplemental/*.json``."""
    return [
        path
        for kind in ("exemplary", "supplemental")
        for path in sorted((directory / kind).glob("*.json"))
    ]


def check_scenario(
    path: Path, factory: AdapterFactory, adapter_name: str, *, root: Path | None = None
) -> ScenarioResult:
    """Run one scenario file against the adapter built by ``factory``.

    ``root`` makes the reported scenario name relative (``exemplary/quote_then_bind``). Any
    exception other than :class:`MalformedResponse` escaping the adapter is a failure too: the
    core records only that one as the insurer's ``error``.
    """
    name = str(path.relative_to(root).with_suffix("")) if root else path.stem
    try:
        _run_scenario(path, factory, adapter_name)
    except _Mismatch as exc:
        return ScenarioResult(name, str(exc))
    except (OSError, ValueError, TypeError, msgspec.DecodeError) as exc:
        # An unreadable fixture (or one whose inputs the contract refuses) is a failure to
        # report, not a crash of the whole check.
        return ScenarioResult(name, f"the scenario itself: {type(exc).__name__}: {exc}")
    return ScenarioResult(name)


class _HttpRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    method: str
    path: str
    headers: dict[str, str] = {}
    # Which body is expected: ``json`` (any JSON, null included), ``xml``, or none at all.
    json: Any | msgspec.UnsetType = msgspec.UNSET
    xml: str | msgspec.UnsetType = msgspec.UNSET
    body: None = None


class _HttpResponse(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    status: int
    headers: dict[str, str] = {}
    json: Any | msgspec.UnsetType = msgspec.UNSET
    text: str = ""

    def reply(self) -> HttpReply:
        body = self.text if isinstance(self.json, msgspec.UnsetType) else json.dumps(self.json)
        return HttpReply(self.status, self.headers, body.encode())


class _Exchange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    request: _HttpRequest
    response: _HttpResponse


class _Webhook(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    headers: dict[str, str] = {}
    json: Any | msgspec.UnsetType = msgspec.UNSET
    text: str = ""

    def body(self) -> bytes:
        text = self.text if isinstance(self.json, msgspec.UnsetType) else json.dumps(self.json)
        return text.encode()


class _Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    operation: Literal["quote", "poll", "bind", "events"]
    expected: dict[str, Any]
    reference: str = ""
    webhook: _Webhook | None = None


class _Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A scenario file, read strictly so that a typo in it is named, not run."""

    request: QuoteRequest
    steps: list[_Step]
    description: str = ""
    provider_id: str | None = None
    settings: dict[str, Any] = {}
    offer: Offer | None = None
    bind: BindRequest | None = None
    http: list[_Exchange] = []


def _run_scenario(path: Path, factory: AdapterFactory, adapter_name: str) -> None:
    scenario = msgspec.json.decode(path.read_bytes(), type=_Scenario)
    settings = msgspec.convert({**DEFAULT_FIXTURE_SETTINGS, **scenario.settings}, ProviderSettings)
    adapter = _guarded(
        "construction", lambda: factory(scenario.provider_id or adapter_name, settings)
    )
    if not isinstance(adapter, InsurerAdapter):
        raise _Mismatch(f"{type(adapter).__name__} does not implement InsurerAdapter")
    exemplary = path.parent.name == "exemplary"
    before = msgspec.to_builtins((scenario.request, scenario.offer))
    exchanges = _Exchanges(scenario.http)

    for index, step in enumerate(scenario.steps):
        where = f"step {index} ({step.operation})"
        expected = step.expected
        if "kind" not in expected:
            raise ValueError(f"{where}: `expected` has no `kind`")
        run = _guarded(where, partial(_prepare, adapter, step, scenario, settings, exchanges))
        if expected["kind"] == "MalformedResponse":
            if exemplary:
                raise _Mismatch(f"{where}: an exemplary scenario must not expect an error")
            try:
                got = _guarded(where, run)
            except MalformedResponse as exc:
                wanted = str(expected.get("reason_contains", ""))
                if wanted not in str(exc):
                    raise _Mismatch(
                        f"{where}: MalformedResponse({str(exc)!r}) does not say {wanted!r}"
                    ) from None
                continue
            raise _Mismatch(f"{where}: expected MalformedResponse, got {type(got).__name__}")
        try:
            got = _guarded(where, run)
        except MalformedResponse as exc:
            raise _Mismatch(f"{where}: unexpected MalformedResponse({str(exc)!r})") from None
        if (difference := _first_difference(expected, _as_builtins(got))) is not None:
            raise _Mismatch(f"{where}: {difference}")

    exchanges.assert_all_used()
    if msgspec.to_builtins((scenario.request, scenario.offer)) != before:
        raise _Mismatch("the adapter mutated its input")


def _guarded(where: str, work: Callable[[], Any]) -> Any:
    """Run adapter code; anything but MalformedResponse or a mismatch is the adapter's bug."""
    try:
        return work()
    except (MalformedResponse, _Mismatch, _ScenarioError):
        raise
    except Exception as exc:
        raise _Mismatch(
            f"{where}: the adapter raised {type(exc).__name__}: {exc} "
            "(only MalformedResponse may escape an adapter)"
        ) from exc


def _prepare(
    adapter: InsurerAdapter,
    step: _Step,
    scenario: _Scenario,
    settings: ProviderSettings,
    exchanges: _Exchanges,
) -> Callable[[], object]:
    """Build the step's call now; parse its reply when the returned function runs."""
    request = scenario.request
    if step.operation == "quote":
        call = adapter.quote_call(request, settings)
        return lambda: adapter.parse_quote(request, exchanges.answer(call))
    if step.operation == "poll":
        poll = adapter.poll_call(step.reference, settings)
        if poll is None:
            raise _Mismatch("a poll step for an adapter without polling (poll_call gave None)")
        return lambda: adapter.parse_quote(request, exchanges.answer(poll))
    if step.operation == "bind":
        offer, bind = scenario.offer, scenario.bind
        if offer is None or bind is None:
            raise _ScenarioError("a bind step needs the scenario's `offer` and `bind`")
        call = adapter.bind_call(offer, bind, settings)
        return lambda: adapter.parse_bind(offer, exchanges.answer(call))
    webhook = step.webhook
    if webhook is None:
        raise _ScenarioError("an events step needs its `webhook`")
    body = webhook.body()
    return lambda: list(adapter.parse_events(body, webhook.headers))


class _Exchanges:
    """The scenario's mock insurer: answers each call with the matching, unused exchange."""

    def __init__(self, exchanges: list[_Exchange]) -> None:
        self._unused = list(exchanges)

    def answer(self, call: HttpCall) -> HttpReply:
        for exchange in self._unused:
            if _call_matches(call, exchange.request):
                self._unused.remove(exchange)
                return exchange.response.reply()
        body = call.body.decode(errors="replace") if call.body else None
        raise _Mismatch(f"no exchange of the scenario matches {call.method} {call.path} {body=}")

    def assert_all_used(self) -> None:
        if self._unused:
            never = [f"{e.request.method} {e.request.path}" for e in self._unused]
            raise _Mismatch(f"exchanges the adapter never made: {', '.join(never)}")


def _call_matches(call: HttpCall, expected: _HttpRequest) -> bool:
    headers = {name.lower(): value for name, value in call.headers.items()}
    return (
        call.method == expected.method
        and call.path == expected.path
        and all(headers.get(k.lower()) == v for k, v in expected.headers.items())
        and _body_matches(call.body, expected)
    )


def _body_matches(actual: bytes | None, expected: _HttpRequest) -> bool:
    if not isinstance(expected.json, msgspec.UnsetType):
        return actual is not None and _json_or_none(actual) == expected.json
    if not isinstance(expected.xml, msgspec.UnsetType):
        try:
            sent = _xml_shape(SafeET.fromstring(actual)) if actual is not None else None
        except SafeET.ParseError:
            return False
        return sent == _xml_shape(SafeET.fromstring(expected.xml.encode()))
    return actual is None


def _json_or_none(body: bytes) -> object:
    # A body that is not JSON matches no JSON expected (a mismatch, not an adapter's crash).
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


_NOT_JSON = object()


def _xml_shape(node: Element) -> tuple[Any, ...]:
    # Whitespace between elements is formatting, not content.
    return (
        node.tag,
        sorted(node.attrib.items()),
        (node.text or "").strip(),
        [_xml_shape(child) for child in node],
    )


def _reply(response: dict[str, Any]) -> HttpReply:
    if "json" in response:
        body = json.dumps(response["json"]).encode()
    else:
        body = response.get("text", "").encode()
    return HttpReply(response["status"], response.get("headers", {}), body)


def _as_builtins(result: object) -> dict[str, Any]:
    if isinstance(result, list):
        return {"kind": "Events", "events": msgspec.to_builtins(result)}
    built = msgspec.to_builtins(result)
    if not isinstance(built, dict):
        raise _Mismatch(f"the adapter returned {type(result).__name__}, not a result")
    return {"kind": type(result).__name__, **built}


def _first_difference(expected: object, actual: object, at: str = "") -> str | None:
    """Where ``actual`` first differs from ``expected``, said so a partner can find it."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys(), key=str):
            where = f"{at}.{key}" if at else str(key)
            if key not in actual:
                return f"{where}: missing (expected {_short(expected[key])})"
            if key not in expected:
                return f"{where}: not expected (got {_short(actual[key])})"
            if (found := _first_difference(expected[key], actual[key], where)) is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{at or 'result'}: expected {len(expected)} items, got {len(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            if (found := _first_difference(want, got, f"{at}[{index}]")) is not None:
                return found
        return None
    if expected != actual:
        return f"{at or 'result'}: expected {_short(expected)}, got {_short(actual)}"
    return None


def _short(value: object, limit: int = 200) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
