"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL: a fresh database is created per test session on the server named by
``ACCELERATOR_TEST_POSTGRES_URL``, migrated, and dropped at the end. When ``CI=true`` and the
server is unreachable the run fails; elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hypothesis
import msgspec
import pytest
from xdist.scheduler import LoadScopeScheduling

from accelerator.settings import Settings

# pytest-xdist's controller loads this file too, and runs no test: the service, SQLAlchemy,
# Alembic and the browser are imported by the fixtures and hooks that use them, in the workers.
# Imported here, they cost the controller 1.6-2.1 s of CPU before it started the workers
# (docs/performance.md, "The test suite's time", ninth round).
if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    from accelerator.infra.database import Database

# Property tests check what holds, never how fast: Hypothesis's default 200 ms deadline per
# example and its "too slow" health check failed them when the machine was busy (pytest-xdist
# workers, other suites), which is load, not a defect.
hypothesis.settings.register_profile(
    "accelerator", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("accelerator")

POSTGRES_SERVER_URL = os.environ.get(
    "ACCELERATOR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
BOOTSTRAP_ADMIN_KEY = "test-bootstrap-admin-key"


_TESTS = Path(__file__).parent
#: The modules that take longest on one worker, longest first: every module that took 15 s or
#: more of one worker's time in a measured `make test` (docs/performance.md, "The test suite's
#: time", eighth round). They are handed out first and the hundred-odd short modules last, so that
#: the workers run out of work within seconds of each other rather than one finishing a long
#: module alone (a 34 s module missing from an older list was among the last to start). The
#: drills fall among them by their time: they mostly wait on deadlines and on the processes they
#: start, so each runs beside busy modules on the other workers rather than beside another drill.
_LONGEST_MODULES = (
    "drills/test_schemathesis_drill.py",
    "api/test_sandbox_journey.py",
    "web/test_seller_journey.py",
    "webhooks/test_inbox_worker.py",
    "api/test_input_bounds.py",
    "drills/test_crash_drill.py",
    "web/test_coverage_and_comparison.py",
    "drills/test_fault_drill.py",
    "web/test_renewal_and_pets.py",
    "web/test_admin_pages.py",
    "webhooks/test_inbox_bounds.py",
    "drills/test_bind_crash_drill.py",
    "api/test_registry_integrity.py",
    "webhooks/test_workers_on_postgres.py",
    "web/test_sessions_and_csrf.py",
    "renewals/test_renewals.py",
    "web/test_certificates.py",
    "infra/test_tracing.py",
    "api/test_bind_reconciliation.py",
    "drills/test_notify_crash_drill.py",
    "drills/test_soak_drill.py",
    "webhooks/test_webhook_endpoint.py",
    "webhooks/test_partner_view.py",
    "audit/test_chain_verification.py",
    "health/test_metrics.py",
    "web/test_admin_console.py",
    "api/test_certificates.py",
)
_RANK = {module: rank for rank, module in enumerate(_LONGEST_MODULES)}


def _run_order(item: pytest.Item) -> int:
    return _RANK.get(item.path.relative_to(_TESTS).as_posix(), len(_RANK))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `make test` hands modules to the workers in this order (`--no-loadscope-reorder`;
    # xdist's own order, the modules with most tests first, had left the one-test drills, the
    # longest tests, to the end). A stable sort: the other modules keep their order.
    items.sort(key=_run_order)


class _DrillTestsApart(LoadScopeScheduling):
    """``--dist loadscope`` (a module's tests on one worker, its module-scoped services started
    once), except that every drill test is a unit of its own, so that a drill module's tests
    (the schemathesis drill's three parts, until the eighth round) run on different workers side
    by side. A drill's fixtures are per test."""

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.startswith("tests/drills/"):
            return nodeid
        return super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's, unknown under `-p no:xdist`
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    if config.getoption("dist") == "loadscope":
        return _DrillTestsApart(config, log)
    return None  # xdist's own scheduler for the other modes


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # The browser tests share one Playwright driver while they follow one another
    # (tests/web/conftest.py); its event loop would break any other test's asyncio, so it
    # stops before the first test without a browser, ahead of that test's fixtures.
    if "browser" not in getattr(item, "fixturenames", ()):
        _stop_shared_browser()


def pytest_sessionfinish() -> None:
    _stop_shared_browser()


def _stop_shared_browser() -> None:
    # A process that never loaded the browser tests' conftest (the xdist controller, a worker
    # without browser tests so far) has no browser to stop, and need not import Playwright.
    web = sys.modules.get("tests.web.conftest")
    if web is not None:
        web.SHARED_BROWSER.stop()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


async def _admin_execute(statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from sqlalchemy.engine import make_url

    from accelerator.infra import migrations

    name = f"accelerator_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:  # asyncpg raises several unrelated types when unreachable
        reason = f"PostgreSQL at {POSTGRES_SERVER_URL} is unreachable: {exc!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    url = make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    # When a browser test was this process's last, the shared browser's event loop still runs
    # here (its test's teardown comes first), and asyncio.run would refuse to start.
    _stop_shared_browser()
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from accelerator.infra import migrations

    path: Path = tmp_path_factory.mktemp("sqlite") / "accelerator.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrations.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated, empty database: SQLite, then PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """An open Database on a migrated, empty schema; emptied again afterwards."""
    from accelerator.infra.database import open_database
    from tests.storage import empty_all_tables

    db = open_database(database_url)
    await empty_all_tables(db)
    try:
        yield db
    finally:
        await empty_all_tables(db)
        await db.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        bootstrap_admin_key=BOOTSTRAP_ADMIN_KEY,
        sandbox_enabled=False,
    )


#: The apps built in this process (``shared_app``), by what decides how they are built.
_APPS: dict[tuple[bytes, tuple[tuple[str, str], ...], str], Litestar] = {}


def shared_app(settings: Settings, build: Callable[[], Litestar], variant: str = "") -> Litestar:
    """The app ``build`` makes for ``settings``, built once per test process and started afresh
    by each test's client.

    Building it (Litestar parses every handler's signature) took about 0.13 s of CPU, a
    third of a short API test. Reusing it leaks nothing: everything a test can change lives in
    the services its lifespan opens and closes (the database, the key cache, the clock), and
    the app's own parts (routes, middleware, settings) are what these settings and the
    ``OTEL_*`` variables (which decide tracing) make of them. ``variant`` names whatever else
    ``build`` gives ``create_app`` (a stateless insurer transport); it must give the same
    every time for one variant.
    """
    otel = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("OTEL_")))
    key = (msgspec.json.encode(settings), otel, variant)
    built = _APPS.get(key)
    if built is None:
        built = _APPS[key] = build()
    return built


@pytest.fixture
def app(settings: Settings, database: Database) -> Litestar:
    """The service for these settings (``shared_app``)."""
    from accelerator.server import create_app

    return shared_app(settings, lambda: create_app(settings))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An API client without credentials."""
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {BOOTSTRAP_ADMIN_KEY}"}
