"""The example partner (examples/acme-insurer) installed the way a deployment installs a plugin:
``uv pip install --target DIR --no-deps``, into a directory outside .venv."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "acme-insurer"
UV = REPO / ".tools" / "bin" / "uv"


@pytest.fixture(scope="session")
def acme_plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin directory holding the example partner, built from its source with hatchling.

    Fails (never skips) when it cannot be built: CI must prove the example installs.
    """
    target = tmp_path_factory.mktemp("plugins")
    if not UV.exists():
        pytest.fail(f"{UV} is missing: run `make install` first")
    started = time.monotonic()
    # --refresh-package: uv caches a local directory's build by its pyproject.toml; a changed
    # adapter must be built again, not taken from that cache.
    result = subprocess.run(  # noqa: S603 - our own pinned uv, fixed arguments
        [
            str(UV), "pip", "install", "--python", sys.executable, "--target", str(target),
            "--no-deps", "--refresh-package", "acme-insurer", str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(
            "could not build and install examples/acme-insurer with uv (it needs the build "
            f"backend hatchling from the package index or uv's cache):\n{result.stderr}"
        )
    print(f"example partner installed in {time.monotonic() - started:.1f} s")
    return target


@pytest.fixture
def restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test adds to sys.path (plugin_paths) is gone after it, so the other tests
    see only the built-in adapters."""
    monkeypatch.setattr(sys, "path", list(sys.path))
