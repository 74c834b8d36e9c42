"""The audit log page: every admin action, newest first."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from accelerator.admin.actions import actions_page
from accelerator.infra.database import Database
from accelerator.web.admin.paging import page_number
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.rendering import page

#: Each recorded action in plain words.
ACTION_WORDS: Final = {
    "session.signed_in": "Signed in",
    "session.signed_out": "Signed out",
    "key.created": "Created an API key",
    "key.revoked": "Revoked an API key",
    "insurer.switched_off": "Switched an insurer off",
    "insurer.switched_on": "Switched an insurer on",
    "policy.verified": "Verified a submitted policy",
    "policy.rejected": "Rejected a submitted policy",
    "inbox.reprocessed": "Reprocessed an inbound delivery",
    "message.replayed": "Sent an outbound message again",
    "endpoint.replayed": "Sent an endpoint's messages again",
}


class AuditLogController(Controller):
    path = "/audit-log"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def audit_log(
        self, db: NamedDependency[Database], request: Request[Any, Any, Any]
    ) -> Response[str]:
        log = await actions_page(db, page_number(request))
        return page(
            request, "admin/audit_log.html", title="Audit log", log=log, action_words=ACTION_WORDS
        )
