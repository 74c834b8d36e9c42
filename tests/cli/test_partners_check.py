"""`accelerator partners check`: an adapter against its scenarios, and live against a partner's
test environment (here the sandbox insurers, and partners that break the bind rules)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner, Result

import providers
from accelerator.cli import main
from accelerator.insurers.conformance import check_live
from bench.processes import START_TIMEOUT_SECONDS, free_port
from providers import ProviderSettings, available_adapters
from providers.sandbox import default_sandbox_provider_settings
from schemas import QuoteRequest

HARBOR = Path(providers.__file__).parent / "fixtures" / "harbor"


def check(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["partners", "check", *args], env=env)


def test_a_built_in_adapter_passes_every_one_of_its_scenarios() -> None:
    result = check("harbor")
    assert result.exit_code == 0, result.output
    scenarios = len(list(HARBOR.glob("*/*.json")))
    assert f"{scenarios} passed, 0 failed" in result.output
    assert "  passed  exemplary/quote_two_offers_then_bind" in result.output


def test_a_failing_scenario_is_named_with_where_it_went_wrong(tmp_path: Path) -> None:
    fixture = json.loads((HARBOR / "exemplary" / "quote_two_offers_then_bind.json").read_text())
    fixture["steps"][0]["expected"]["offers"][0]["deductible"]["amount"] = "7"
    (tmp_path / "exemplary").mkdir()
    (tmp_path / "exemplary" / "changed.json").write_text(json.dumps(fixture))
    result = check("harbor", "--fixtures", str(tmp_path))
    assert result.exit_code == 1
    assert "  FAILED  exemplary/changed: step 0 (quote): offers[0].deductible.amount" in (
        result.output
    )
    assert "0 passed, 1 failed" in result.output


def test_an_unknown_provider_lists_what_there_is() -> None:
    result = check("acme")
    assert result.exit_code == 1
    assert "no insurer or adapter named 'acme'" in result.output
    assert "installed adapters: acord, canonical, harbor, meridian" in result.output


def test_bind_without_live_is_a_usage_error() -> None:
    result = check("harbor", "--bind")
    assert result.exit_code == 2
    assert "--bind needs --live" in result.output


@pytest.fixture(scope="module")
def sandbox_port() -> Iterator[int]:
    # A port chosen below the kernel's ephemeral range (bench.processes.free_port): one got by
    # binding to port 0 may be handed to another process's outgoing connection before the
    # sandbox binds it. The start may take as long as the drills allow theirs on a busy machine;
    # the wait ends at the first answer, and at once if the sandbox exits.
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "accelerator", "sandbox", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + START_TIMEOUT_SECONDS
        while process.poll() is None and time.monotonic() < give_up:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"the sandbox did not start (exit code {process.poll()})")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_live_against_the_sandbox_quotes_and_checks_bind_idempotency(sandbox_port: int) -> None:
    result = check(
        "meridian", "--live", "--bind", env={"ACCELERATOR_SANDBOX_PORT": str(sandbox_port)}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"live, against http://127.0.0.1:{sandbox_port}/meridian" in lines
    # Meridian answers quotes asynchronously: the check polls until the offers are there.
    assert any(
        line.startswith("  passed  quote 1 (Volt Goods LLC, US): offered")
        and "naming Amazon.com Services LLC as additional insured" in line
        for line in lines
    ), result.output
    again = next(line for line in lines if "bind again with the same Idempotency-Key" in line)
    first = next(line for line in lines if line.startswith("  passed  bind: "))
    assert again.split(": ", 1)[1] == first.split(": ", 1)[1]
    assert any(
        line.startswith("  passed  bind again with another Idempotency-Key: refused")
        for line in lines
    )


def test_live_with_the_wrong_credentials_fails_each_quote(sandbox_port: int) -> None:
    sandbox = default_sandbox_provider_settings(f"http://127.0.0.1:{sandbox_port}", "", [])
    harbor = msgspec.to_builtins(msgspec.structs.replace(sandbox["harbor"], api_key="wrong"))
    result = check(
        "harbor", "--live", env={"ACCELERATOR_PROVIDERS": json.dumps({"harbor": harbor})}
    )
    assert result.exit_code == 1
    assert "  FAILED  quote 1 (Volt Goods LLC, US): http_401" in result.output


def test_live_without_a_configured_insurer_says_what_to_configure() -> None:
    # No insurer is configured, so the sandbox's are: "acord" is only an adapter's name.
    acord = check("acord", "--live")
    assert acord.exit_code == 1
    assert "--live needs 'acord' configured as an insurer" in acord.output


# A partner that breaks the bind rules, behind a mock transport.


def _harbor_request() -> QuoteRequest:
    fixture = json.loads((HARBOR / "exemplary" / "quote_two_offers_then_bind.json").read_text())
    return msgspec.convert(fixture["request"], QuoteRequest)


def _partner(binds: list[dict[str, Any]]) -> httpx.MockTransport:
    """Harbor's API: quotes from the scenario, then the given answers to successive binds."""
    fixture = json.loads((HARBOR / "exemplary" / "quote_two_offers_then_bind.json").read_text())
    quote_answer = fixture["http"][0]["response"]["json"]
    for quote in quote_answer["quotes"]:
        quote["valid_until"] = "2199-01-01T00:00:00Z"
    answers = iter(binds)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/quotes"):
            return httpx.Response(200, json=quote_answer)
        return httpx.Response(200, json=next(answers))

    return httpx.MockTransport(handle)


async def _live(binds: list[dict[str, Any]]) -> dict[str, str]:
    settings = ProviderSettings(base_url="https://partner.test", api_key="k")
    adapter = available_adapters()["harbor"]("harbor", settings)
    checks = await check_live(
        adapter,
        settings,
        [_harbor_request()],
        bind=True,
        timeout_seconds=5,
        transport=_partner(binds),
    )
    return {c.name: c.problem for c in checks}


def _issued(number: str) -> dict[str, Any]:
    fixture = json.loads((HARBOR / "exemplary" / "quote_two_offers_then_bind.json").read_text())
    answer: dict[str, Any] = fixture["http"][1]["response"]["json"]
    answer["policy"]["policy_number"] = number
    return answer


@pytest.mark.anyio
async def test_a_partner_that_binds_a_quote_twice_fails_the_check() -> None:
    problems = await _live([_issued("P-1"), _issued("P-1"), _issued("P-2")])
    assert problems["bind"] == ""
    assert problems["bind again with the same Idempotency-Key"] == ""
    assert problems["bind again with another Idempotency-Key"] == "bound twice: bound: policy P-2"


@pytest.mark.anyio
async def test_a_partner_that_forgets_an_idempotency_key_fails_the_check() -> None:
    refused = {"status": "refused", "refusal": {"code": "already_bound", "message": "bound"}}
    problems = await _live([_issued("P-1"), _issued("P-9"), refused])
    assert problems["bind again with the same Idempotency-Key"] == (
        "a different answer: bound: policy P-9"
    )
