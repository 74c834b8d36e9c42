"""Browser-test fixtures: Debian's Chromium driven by Playwright, and the live service.

Chromium is never downloaded here: ``scripts/ensure-chromium`` (run by ``make test``) installs
Debian's package, and Playwright launches it by path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.web.live_server import LiveService

CHROMIUM = Path(os.environ.get("ACCELERATOR_TEST_CHROMIUM", "/usr/bin/chromium"))
# Headless on a machine without network: no first-run, update, sync or QUIC traffic at all.
CHROMIUM_ARGS = [
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live_service(request: pytest.FixtureRequest) -> Iterator[LiveService]:
    """The service with the sandbox insurers, on SQLite then on PostgreSQL."""
    service = LiveService(str(request.getfixturevalue(f"{request.param}_url")))
    try:
        service.start()
        yield service
    finally:
        service.stop()


# Playwright's sync API keeps an event loop running in this thread while it is open, and the
# database fixtures create their databases with asyncio.run: so the browser starts after the
# service (and its database) and stops before the next database's service starts.
@pytest.fixture(scope="module")
def playwright(live_service: LiveService) -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Chromium's sandbox cannot start as root (CI containers run as root).
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
    yield browser
    browser.close()


@pytest.fixture
def context(live_service: LiveService, browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP, base_url=live_service.url)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
