"""Render the web pages: one Jinja2 environment over the packaged templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import jinja2
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from accelerator import __version__
from accelerator.web import wording
from accelerator.web.session import (
    CSRF_FIELD,
    audience_of,
    current_session,
    expected_csrf_token,
)

PACKAGE_DIR: Final = Path(__file__).resolve().parent
STATIC_DIR: Final = PACKAGE_DIR / "static"

# Short messages shown once after a redirect; the query names one, so no text is reflected.
NOTICES: Final = {
    "signed_out": "You are signed out.",
    "profile_saved": "Your profile is saved. Here is what it means for you.",
    "bound": "Done: your policy is bought and on record below.",
    "bind_pending": "Your purchase is sent. The insurer confirms it shortly; this page "
    "updates when it does.",
    "profile_first": "Describe your business first: quotes are based on it.",
    "session_ended": "Your session ended. Sign in again to continue.",
    "submitted": "Your certificate is submitted: the policy is on record below and waits for "
    "verification.",
    "key_revoked": "The key is revoked: it no longer opens anything.",
    "switched_off": "The insurer is switched off: new quote requests skip it.",
    "switched_on": "The insurer is switched on: new quote requests ask it again.",
    "policy_verified": "The policy is verified: it counts towards the seller's compliance now.",
    "policy_rejected": "The policy is rejected: the seller sees your reason.",
    "policy_decided": "That policy was already decided, so nothing changed.",
    "reprocessed": "The delivery is due again: a worker applies it within moments.",
    "replayed": "The message is queued to be sent again.",
    "replayed_since": "Those messages are queued to be sent again.",
}

# The admin console's sections, in the order of its navigation.
ADMIN_SECTIONS: Final = (
    ("/admin/insurers", "Insurers"),
    ("/admin/verification", "Certificates"),
    ("/admin/inbox", "Inbox"),
    ("/admin/endpoints", "Outbound"),
    ("/admin/keys", "API keys"),
    ("/admin/audit-log", "Audit log"),
)

# Pages load only their own script and styles; nothing may frame them.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show a seller's own business: never kept by shared caches or the back button.
    "Cache-Control": "no-store",
}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PACKAGE_DIR / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(
    money=wording.money,
    long_date=wording.long_date,
    instant=wording.instant,
    moment=wording.moment,
    listing=wording.listing,
    month_name=wording.month_name,
    days=wording.days,
    percent=wording.percent,
    category=wording.category_label,
)
_environment.globals.update(
    words=wording,
    csrf_field=CSRF_FIELD,
    asset_version=__version__,
    admin_sections=ADMIN_SECTIONS,
)


def render(template: str, **context: Any) -> str:
    return _environment.get_template(template).render(**context)


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    csrf_token: str | None = None,
    **context: Any,
) -> Response[str]:
    """A full page (or fragment) with what every template may use: the signed-in seller, the
    form token, the current path and a notice named by ``?notice=``."""
    notice = NOTICES.get(request.query_params.get("notice", ""))
    html = render(
        template,
        layout=audience_of(request).layout,
        root=audience_of(request).root,
        session=current_session(request),
        csrf_token=csrf_token or expected_csrf_token(request) or "",
        path=request.url.path,
        notice=notice,
        **context,
    )
    return Response(
        html,
        status_code=status_code,
        media_type=MediaType.HTML,
        cookies=cookies or [],
        headers=SECURITY_HEADERS,
    )
