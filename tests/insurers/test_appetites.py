"""Appetites are written in the taxonomy's words: a category it lacks matches no seller, so a
configuration naming one is refused at start, and every built-in appetite is checked here."""

from __future__ import annotations

import json

import pytest

from accelerator.insurers.partners import check_appetite
from accelerator.risk.taxonomy import load_taxonomy
from accelerator.server.services import configure
from accelerator.settings import SettingsError, load_settings
from providers import build_adapters
from providers.sandbox import (
    canonical_sandbox_provider_settings,
    default_sandbox_provider_settings,
)


def test_every_built_in_and_sandbox_appetite_names_only_taxonomy_categories() -> None:
    taxonomy = load_taxonomy()
    settings = {
        **default_sandbox_provider_settings("http://sandbox.test", "", []),
        **canonical_sandbox_provider_settings("http://sandbox.test", "", []),
    }
    adapters = build_adapters(settings)
    assert sorted(adapters) == ["acorn", "harbor", "keystone", "meridian", "summit"]
    for provider_id, adapter in adapters.items():
        check_appetite(provider_id, adapter.appetite, taxonomy)


@pytest.mark.parametrize(
    ("written", "suggested"), [("pet", "'pets'"), ("kitchen", "'home/kitchen'")]
)
def test_a_configured_appetite_outside_the_taxonomy_stops_the_start_naming_it(
    written: str, suggested: str
) -> None:
    partner = {
        "adapter": "harbor",
        "base_url": "https://insurer.test",
        "appetite": {
            "marketplaces": ["US"],
            "categories": ["home", written],
            "revenue_bands": [{"currency": "USD", "minimum": "0", "maximum": "1000000"}],
            "max_per_occurrence": "1000000",
        },
    }
    environ = {"ACCELERATOR_PROVIDERS": json.dumps({"acme": partner})}
    with pytest.raises(SettingsError) as refused:
        configure(load_settings(environ=environ))
    message = str(refused.value)
    assert "ACCELERATOR_PROVIDERS" in message
    assert f"appetite categories names {written!r}" in message
    assert f"did you mean {suggested}?" in message
