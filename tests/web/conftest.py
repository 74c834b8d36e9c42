"""Browser-test fixtures: Debian's Chromium driven by Playwright, and the live service.

Chromium is never downloaded here: ``scripts/ensure-chromium`` (run by ``make test``) installs
Debian's package, and Playwright launches it by path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api._context_manager import PlaywrightContextManager

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


class _SharedBrowser:
    """One Playwright driver and one Chromium for consecutive browser tests on this process.

    Starting them (Playwright's Node driver, then Chromium) took 1.5 to 2 s per module and
    database. Playwright's sync API keeps an event loop running in this thread while the driver
    is open, so ``asyncio.run`` and the anyio tests cannot run then: the driver starts only
    after every session database exists, and ``tests/conftest.py`` stops it before any test
    that does not use the browser (and at the end of the session).
    """

    def __init__(self) -> None:
        self._driver: PlaywrightContextManager | None = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        if self._browser is None:
            self._driver = sync_playwright()
            playwright: Playwright = self._driver.start()
            # Chromium's sandbox cannot start as root (CI containers run as root).
            args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
            self._browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        return self._browser

    def stop(self) -> None:
        browser, driver = self._browser, self._driver
        self._browser = self._driver = None
        if browser is not None:
            browser.close()
        if driver is not None:
            driver.__exit__()


SHARED_BROWSER = _SharedBrowser()


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest, live_service: LiveService) -> Browser:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    # Both session databases first: they are created with asyncio.run, which cannot run while
    # the driver is open (PostgreSQL may be absent outside CI: its tests skip, these run).
    with contextlib.suppress(pytest.skip.Exception):
        request.getfixturevalue("postgres_url")
    request.getfixturevalue("sqlite_url")
    return SHARED_BROWSER.get()


@pytest.fixture
def context(live_service: LiveService, browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP, base_url=live_service.url)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
