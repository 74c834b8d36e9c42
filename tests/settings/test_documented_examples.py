"""The configuration examples in docs/configuration.md load as written."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from accelerator.server.services import configure
from accelerator.settings import load_settings

DOC = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()


def test_the_example_toml_file_configures_two_partners_with_an_appetite(tmp_path: Path) -> None:
    [example] = re.findall(r"Example TOML file:\n\n```toml\n(.*?)```", DOC, re.DOTALL)
    config = tmp_path / "accelerator.toml"
    config.write_text(example)
    configured = configure(load_settings(environ={"ACCELERATOR_CONFIG_FILE": str(config)}))
    assert sorted(configured.providers) == ["harbor", "summit"]
    appetite = configured.providers["summit"].appetite
    assert appetite is not None
    assert appetite.categories == ("toys", "baby")
    assert appetite.max_per_occurrence == Decimal(2_000_000)
