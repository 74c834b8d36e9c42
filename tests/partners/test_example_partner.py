"""The example partner, Acme Mutual, installed as a plugin and driven through the public API.

It is installed outside .venv (tests/partners/conftest.py) and found only through the
``plugin_paths`` setting; its fixtures pass the shared harness (``providers.check_scenario``,
as ``accelerator partners check acme`` runs them); and a seller goes from a
profile to a bound Acme policy whose cancellation, sent by Acme's own server as a signed
webhook, ends its cover.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from aiohttp import web
from click.testing import CliRunner

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.cli import main
from accelerator.infra.database import Database
from accelerator.server import create_app
from accelerator.server.services import configure
from accelerator.settings import Settings, SettingsError, load_settings
from bench.processes import free_port
from providers import available_adapters, check_scenario, fixture_directory, scenario_files
from tests.api.conftest import power_bank_body

EXAMPLE_FIXTURES = (
    Path(__file__).resolve().parents[2] / "examples/acme-insurer/acme_insurer/fixtures"
)
SECRET = "whsec_" + "YWNtZS1leGFtcGxlLXBhcnRuZXItc2VjcmV0"
API_KEY = "acme-test-key"


def acme_provider(base_url: str, callback_url: str = "") -> dict[str, Any]:
    return {
        "base_url": base_url,
        "api_key": API_KEY,
        "callback_secrets": [SECRET],
        "callback_url": callback_url,
    }


@pytest.mark.usefixtures("restore_sys_path")
def test_the_acme_adapter_is_found_only_through_plugin_paths(acme_plugin_dir: Path) -> None:
    assert "acme" not in available_adapters()
    without = Settings(sandbox_enabled=False, providers={"acme": acme_provider("http://acme")})
    with pytest.raises(SettingsError, match="'acme', which is not installed"):
        configure(without)

    configured = configure(
        Settings(
            sandbox_enabled=False,
            providers={"acme": acme_provider("http://acme")},
            plugin_paths=[str(acme_plugin_dir)],
        )
    )
    assert set(configured.providers) == {"acme"}
    found = available_adapters()["acme"]
    assert found.__module__ == "acme_insurer.adapter"
    # The installed copy, not the source tree's.
    assert Path(importlib.import_module(found.__module__).__file__ or "").is_relative_to(
        acme_plugin_dir
    )


def test_a_missing_plugin_directory_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    settings = load_settings({"ACCELERATOR_PLUGIN_PATHS": f"{tmp_path}:{missing}"})
    assert settings.plugin_paths == [str(tmp_path), str(missing)]
    with pytest.raises(SettingsError) as raised:
        configure(settings)
    assert str(raised.value) == (
        f"invalid setting plugin_paths (ACCELERATOR_PLUGIN_PATHS): {missing}: no such directory"
    )


def test_plugin_paths_are_read_as_a_json_array_and_from_the_toml_file(tmp_path: Path) -> None:
    settings = load_settings({"ACCELERATOR_PLUGIN_PATHS": f'["{tmp_path}"]'})
    assert settings.plugin_paths == [str(tmp_path)]
    config = tmp_path / "accelerator.toml"
    config.write_text(f'plugin_paths = ["{tmp_path}"]\n')
    assert load_settings({"ACCELERATOR_CONFIG_FILE": str(config)}).plugin_paths == [str(tmp_path)]
    assert load_settings({}).plugin_paths == []


def _example_scenarios() -> list[str]:
    return [
        str(path.relative_to(EXAMPLE_FIXTURES).with_suffix(""))
        for path in scenario_files(EXAMPLE_FIXTURES)
    ]


@pytest.mark.usefixtures("restore_sys_path")
@pytest.mark.parametrize("scenario", _example_scenarios())
def test_the_example_fixtures_pass_the_adapter_harness(
    scenario: str, acme_plugin_dir: Path
) -> None:
    configure(Settings(sandbox_enabled=False, plugin_paths=[str(acme_plugin_dir)]))
    factory = available_adapters()["acme"]
    # Found beside the installed adapter, as `accelerator partners check acme` finds them: the
    # package ships its fixtures.
    directory = fixture_directory("acme", factory)
    assert directory is not None
    assert directory.is_relative_to(acme_plugin_dir)
    result = check_scenario(directory / f"{scenario}.json", factory, "acme", root=directory)
    assert result.passed, result.problem


@pytest.mark.usefixtures("restore_sys_path")
def test_partners_check_finds_the_plugin_through_plugin_paths(acme_plugin_dir: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["partners", "check", "acme"],
        env={"ACCELERATOR_PLUGIN_PATHS": str(acme_plugin_dir), "ACCELERATOR_PROVIDERS": None},
    )
    assert result.exit_code == 0, result.output
    assert f"{len(_example_scenarios())} passed, 0 failed" in result.output


def test_the_example_has_exemplary_and_supplemental_fixtures() -> None:
    assert list((EXAMPLE_FIXTURES / "exemplary").glob("*.json"))
    assert list((EXAMPLE_FIXTURES / "supplemental").glob("*.json"))


# --- end to end -------------------------------------------------------------------------------


class Running:
    def __init__(self, api: httpx.AsyncClient, claims: httpx.AsyncClient, acme_url: str) -> None:
        self.api, self.claims, self.acme_url = api, claims, acme_url


@pytest.fixture
async def acme_service(
    database_url: str, database: Database, acme_plugin_dir: Path, restore_sys_path: None
) -> AsyncIterator[Running]:
    """The service (uvicorn) configured with the Acme insurer only, and Acme's server."""
    api_port, acme_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    callback_url = f"{api_url}/v1/webhooks/insurers/acme"
    settings = Settings(
        database_url=database_url,
        sandbox_enabled=False,
        plugin_paths=[str(acme_plugin_dir)],
        providers={"acme": acme_provider(f"http://127.0.0.1:{acme_port}", callback_url)},
    )
    app = create_app(settings)  # configure() puts the plugin directory on sys.path
    acme_server = importlib.import_module("acme_insurer.server")
    runner = web.AppRunner(
        acme_server.build_app(acme_server.AcmeConfig(callback_url=callback_url, secret=SECRET))
    )
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", acme_port).start()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    seller = await create_key(database, Role.SELLER, seller_id="s-1")
    claims = await create_key(database, Role.CLAIMS)
    async with (
        httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {seller.secret}"}, timeout=30
        ) as api,
        httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {claims.secret}"}, timeout=30
        ) as claims_client,
    ):
        yield Running(api, claims_client, f"http://127.0.0.1:{acme_port}")
    server.should_exit = True
    await task
    await runner.cleanup()


def claim(incident_at: datetime) -> dict[str, Any]:
    return {
        "seller_id": "s-1",
        "incident_at": incident_at.isoformat(),
        "product_category": "home/furniture",
        "marketplace": "US",
        "claim_amount": {"amount": "400", "currency": "USD"},
    }


@pytest.mark.anyio
async def test_a_seller_binds_an_acme_policy_and_acmes_signed_cancellation_ends_its_cover(
    acme_service: Running,
) -> None:
    api, claims = acme_service.api, acme_service.claims
    profile = await api.put(
        "/v1/sellers/s-1/profile", json=power_bank_body(categories={"home/furniture": "1"})
    )
    assert profile.status_code == 200, profile.text

    # Cover from today in the marketplace's zone: Acme's policy starts at midnight UTC of that
    # date, hours ago, so an incident an hour ago is inside it.
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    cover = {
        "per_occurrence": {"amount": "1000000", "currency": "USD"},
        "aggregate": {"amount": "2000000", "currency": "USD"},
        "max_deductible": {"amount": "10000", "currency": "USD"},
        "effective_date": today.isoformat(),
    }
    asked = await api.post(
        "/v1/quote-requests?wait=true", json={"seller_id": "s-1", "cover": cover}
    )
    assert asked.status_code == 200, asked.text
    view = asked.json()
    assert [(o["provider_id"], o["status"]) for o in view["outcomes"]] == [("acme", "offered")]
    [offer] = view["offers"]
    assert offer["offer"]["insurer_name"] == "Acme Mutual Insurance Company"
    assert offer["compliance"]["compliant"], offer["compliance"]

    bound = await api.post(
        f"/v1/offers/{offer['id']}/bind", json={}, headers={"Idempotency-Key": "acme-bind-1"}
    )
    assert bound.status_code == 201, bound.text
    [policy] = (await api.get("/v1/sellers/s-1/policies")).json()
    number = policy["terms"]["policy_number"]
    assert number.startswith("AMM-GL-")

    now = datetime.now(UTC)
    before_cancellation, after_cancellation = now - timedelta(hours=1), now - timedelta(minutes=10)
    covered = await claims.post("/v1/coverage/checks", json=claim(after_cancellation))
    assert covered.json()["decision"] == "exempt", covered.text

    async with httpx.AsyncClient(base_url=acme_service.acme_url) as acme:
        sent = await acme.post(
            f"/_admin/cancel/{number}",
            json={"effective_at": (now - timedelta(minutes=30)).isoformat(), "reason": "test"},
        )
    assert sent.status_code == 200, sent.text
    assert sent.json()["callback_status"] == 200, sent.json()  # stored, to be applied

    decision: dict[str, Any] = {}
    for _ in range(100):  # the inbox worker applies the stored delivery shortly after the 202
        decision = (await claims.post("/v1/coverage/checks", json=claim(after_cancellation))).json()
        if decision["decision"] != "exempt":
            break
        await asyncio.sleep(0.1)
    assert decision["decision"] == "not_exempt", decision
    assert "policy_cancelled" in [r["code"] for r in decision["reasons"]]
    earlier = await claims.post("/v1/coverage/checks", json=claim(before_cancellation))
    assert earlier.json()["decision"] == "exempt", earlier.text
