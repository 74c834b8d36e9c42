"""The webhook inbox page: insurers' deliveries that failed, wait parked or are being retried,
with their errors, and reprocessing one (the API's inbox service)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from accelerator.admin.actions import record_action
from accelerator.infra.database import Database
from accelerator.web.admin.ids import checked_number
from accelerator.web.admin.paging import page_number
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.rendering import page
from accelerator.web.session import current_session
from accelerator.webhooks.repository import purged_at
from accelerator.webhooks.service import WebhookService
from schemas import InboxStatus

DELIVERIES_PER_PAGE: Final = 25
#: The lists the page offers, and how it names them.
SHOWN: Final = {
    InboxStatus.FAILED: "Failed",
    InboxStatus.PARKED: "Parked",
    InboxStatus.RETRYING: "Being retried",
}


def _status(request: Request[Any, Any, Any]) -> InboxStatus:
    asked = request.query_params.get("status", "")
    return next((status for status in SHOWN if status.value == asked), InboxStatus.FAILED)


class InboxController(Controller):
    path = "/inbox"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def inbox(
        self, webhooks: NamedDependency[WebhookService], request: Request[Any, Any, Any]
    ) -> Response[str]:
        status = _status(request)
        number = page_number(request)
        # One more than a page: whether an older page exists, without counting the inbox.
        rows = await webhooks.inbox_page(
            status, DELIVERIES_PER_PAGE + 1, (number - 1) * DELIVERIES_PER_PAGE
        )
        return page(
            request,
            "admin/inbox.html",
            title="Webhook inbox",
            deliveries=[(row, purged_at(row)) for row in rows[:DELIVERIES_PER_PAGE]],
            more=len(rows) > DELIVERIES_PER_PAGE,
            status=status,
            shown=SHOWN,
            page_number=number,
        )

    @post("/{inbox_id:int}/reprocess", status_code=303)
    async def reprocess(
        self,
        db: NamedDependency[Database],
        webhooks: NamedDependency[WebhookService],
        request: Request[Any, Any, Any],
        inbox_id: FromPath[int],
    ) -> Redirect:
        session = current_session(request)
        assert session is not None  # the guard let only a signed-in operator through
        before = await webhooks.get(checked_number(inbox_id))
        # A purged delivery or one a worker holds now is refused as a page saying so.
        await webhooks.reprocess(inbox_id)
        await record_action(
            db,
            session.principal,
            "inbox.reprocessed",
            f"delivery {inbox_id} from {before.provider_id}",
            f"was {before.status}: {before.error or 'no error recorded'}",
        )
        return Redirect(f"/admin/inbox?status={before.status}&notice=reprocessed", status_code=303)
