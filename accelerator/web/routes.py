"""The seller pages under ``/app`` and their static files, ready to add to the app.

The pages authenticate with their own cookie session (the API-key middleware skips ``/app``),
check a CSRF token on every form post, and render their errors as pages.
"""

from __future__ import annotations

from typing import Final

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from accelerator.web.coverage import CoverageController
from accelerator.web.errors import PAGE_EXCEPTION_HANDLERS
from accelerator.web.profile import ProfileController
from accelerator.web.quotes import QuotesController
from accelerator.web.rendering import STATIC_DIR
from accelerator.web.session import SessionMiddleware
from accelerator.web.sign_in import SignInController

pages = Router(
    path="/app",
    route_handlers=[SignInController, ProfileController, QuotesController, CoverageController],
    middleware=[SessionMiddleware()],
    exception_handlers=PAGE_EXCEPTION_HANDLERS,
    include_in_schema=False,
)

# Served without a session lookup; the version in each asset URL changes with every release.
static_files = create_static_files_router(
    path="/app/static",
    directories=[STATIC_DIR],
    name="app-static",
    cache_control=CacheControlHeader(max_age=3600),
)

SELLER_PAGES: Final = (pages, static_files)
