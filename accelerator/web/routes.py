"""The seller pages under ``/app`` and their static files, ready to add to the app.

The pages authenticate with their own cookie session (the API-key middleware skips ``/app``),
check a CSRF token on every form post, and render their errors as pages.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from accelerator.web.certificates import CertificatesController
from accelerator.web.coverage import CoverageController
from accelerator.web.errors import PAGE_EXCEPTION_HANDLERS
from accelerator.web.profile import ProfileController
from accelerator.web.quotes import QuotesController
from accelerator.web.rendering import STATIC_DIR
from accelerator.web.renewals import RenewalsController
from accelerator.web.session import SessionMiddleware, SessionResolver
from accelerator.web.sign_in import SignInController


def seller_pages(resolve_session: SessionResolver) -> list[ControllerRouterHandler]:
    """The pages, whose middleware finds each request's session with ``resolve_session``, and
    their static files."""
    pages = Router(
        path="/app",
        route_handlers=[
            SignInController,
            ProfileController,
            QuotesController,
            CoverageController,
            CertificatesController,
            RenewalsController,
        ],
        middleware=[SessionMiddleware(resolve_session)],
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
    return [pages, static_files]
