"""The app a benchmark serves: the real service, plus the baseline endpoints."""

from __future__ import annotations

from litestar import Litestar

from accelerator.server import create_app
from accelerator.settings import load_settings
from bench.baselines import add_baselines


def create_bench_app() -> Litestar:
    """``create_app()`` from the environment's settings, with ``bench.baselines`` registered."""
    settings = load_settings()
    app = create_app(settings)
    add_baselines(app, settings)
    return app
