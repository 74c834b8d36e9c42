"""The admin console's router: the seller pages' stack (sessions, guards, error pages) for the
admin audience."""

from __future__ import annotations

from litestar import Router

from accelerator.web.admin.audit_log import AuditLogController
from accelerator.web.admin.endpoints import EndpointsController
from accelerator.web.admin.inbox import InboxController
from accelerator.web.admin.insurers import InsurersController
from accelerator.web.admin.keys import KeysController
from accelerator.web.admin.sign_in import AdminSignInController
from accelerator.web.admin.verification import VerificationController
from accelerator.web.errors import PAGE_EXCEPTION_HANDLERS
from accelerator.web.session import ADMINS, SessionMiddleware, SessionResolver


def admin_pages(resolve_session: SessionResolver) -> Router:
    """The console, whose middleware finds each request's admin session with
    ``resolve_session`` (its styles are the seller pages' static files)."""
    return Router(
        path="/admin",
        route_handlers=[
            AdminSignInController,
            InsurersController,
            VerificationController,
            InboxController,
            EndpointsController,
            KeysController,
            AuditLogController,
        ],
        middleware=[SessionMiddleware(resolve_session, ADMINS)],
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )
