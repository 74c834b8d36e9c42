"""One data-driven harness for every adapter (the prebid-server pattern).

Each JSON scenario under ``providers/fixtures/<adapter>/{exemplary,supplemental}/`` runs through
``providers.check_scenario``, the same code as ``accelerator partners check``; the scenario
format is in its module and in docs/partners.md. ``<adapter>`` is the adapter's entry-point
name, so a new adapter's fixtures need no test code at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import providers
from providers import (
    AdapterFactory,
    HttpCall,
    HttpReply,
    MalformedResponse,
    Offered,
    ProviderSettings,
    available_adapters,
    check_scenario,
    fixture_directory,
    scenario_files,
)
from schemas import Offer, QuoteRequest

FIXTURES = Path(providers.__file__).parent / "fixtures"


def _adapters() -> dict[str, AdapterFactory]:
    return available_adapters()


def _scenarios() -> list[object]:
    adapters = _adapters()
    return [
        pytest.param(name, path, id=f"{name}/{path.relative_to(directory).with_suffix('')}")
        for name, factory in sorted(adapters.items())
        if (directory := fixture_directory(name, factory)) is not None
        for path in scenario_files(directory)
    ]


@pytest.mark.parametrize(("name", "path"), _scenarios())
def test_adapter_scenario(name: str, path: Path) -> None:
    result = check_scenario(path, _adapters()[name], name)
    assert result.passed, result.problem


def test_every_built_in_adapter_has_exemplary_fixtures() -> None:
    for name, factory in _adapters().items():
        directory = fixture_directory(name, factory)
        assert directory is not None, f"adapter {name!r} has no fixtures"
        assert list((directory / "exemplary").glob("*.json")), name


def test_every_fixture_directory_belongs_to_a_registered_adapter() -> None:
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= set(_adapters())


# The checker must fail what is wrong, or the harness above proves nothing.


class _LooseAdapter:
    """Harbor's request shape, but it raises KeyError on a body without ``quotes``."""

    signature_scheme = "standard-webhooks"
    secret_headers = frozenset({"authorization"})

    def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
        self.provider_id = provider_id
        self.insurer_name = "Loose"
        self.appetite = settings.appetite

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        return HttpCall("POST", "/q", {}, json.dumps({"id": request.request_id}).encode())

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> Offered:
        offers = json.loads(reply.body)["quotes"]
        return Offered([Offer(**o) for o in offers])

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> None:
        return None

    def bind_call(self, offer: Offer, bind: object, settings: ProviderSettings) -> HttpCall:
        raise NotImplementedError

    def parse_bind(self, offer: Offer, reply: HttpReply) -> object:
        raise NotImplementedError

    def parse_events(self, body: bytes, headers: object) -> list[object]:
        raise MalformedResponse("no events")


def _scenario(tmp_path: Path, **changes: object) -> Path:
    harbor = FIXTURES / "harbor" / "exemplary" / "quote_two_offers_then_bind.json"
    fixture = json.loads(harbor.read_text())
    fixture.update(changes)
    path = tmp_path / "exemplary" / "case.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fixture))
    return path


def test_a_wrong_result_is_reported_with_where_it_differs(tmp_path: Path) -> None:
    harbor = FIXTURES / "harbor" / "exemplary" / "quote_two_offers_then_bind.json"
    fixture = json.loads(harbor.read_text())
    fixture["steps"][0]["expected"]["offers"][0]["premium"]["amount"] = "1"
    path = _scenario(tmp_path, steps=fixture["steps"])
    result = check_scenario(path, available_adapters()["harbor"], "harbor", root=tmp_path)
    assert not result.passed
    assert result.scenario == "exemplary/case"
    assert result.problem.startswith("step 0 (quote): offers[0].premium.amount: expected")


def test_an_exchange_the_adapter_never_makes_is_a_failure(tmp_path: Path) -> None:
    harbor = FIXTURES / "harbor" / "exemplary" / "quote_two_offers_then_bind.json"
    fixture = json.loads(harbor.read_text())
    path = _scenario(tmp_path, steps=fixture["steps"][:1])
    result = check_scenario(path, available_adapters()["harbor"], "harbor")
    assert result.problem == "exchanges the adapter never made: POST /binds"


def test_an_exception_other_than_malformed_response_is_the_adapters_bug(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        http=[
            {
                "request": {"method": "POST", "path": "/q", "json": {"id": "qr-1"}},
                "response": {"status": 200, "json": {"nothing": []}},
            }
        ],
        steps=[{"operation": "quote", "expected": {"kind": "Offered", "offers": []}}],
    )
    result = check_scenario(path, _LooseAdapter, "loose")  # type: ignore[arg-type]
    assert "the adapter raised KeyError" in result.problem
    assert "only MalformedResponse may escape" in result.problem


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("[1, 2]", "Expected `object`, got `array`"),
        ("not json", "JSON is malformed"),
        ('{"request": {}, "steps": []}', "at `$.request`"),
        ('{"stepz": []}', "Object contains unknown field `stepz`"),
    ],
)
def test_a_broken_scenario_file_is_reported_as_the_scenarios_fault(
    tmp_path: Path, content: str, named: str
) -> None:
    path = tmp_path / "exemplary" / "broken.json"
    path.parent.mkdir()
    path.write_text(content)
    result = check_scenario(path, available_adapters()["harbor"], "harbor")
    assert result.problem.startswith("the scenario itself: ")
    assert named in result.problem
