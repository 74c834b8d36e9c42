"""The live-verification link printed on every certificate (``/verify/<token>``): public, no
key and no session, a page for people and a small JSON document for machines."""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from accelerator.certificates.service import CertificateService
from accelerator.errors import NotFound
from accelerator.infra.openapi import declares
from accelerator.rulesets.zones import local_time
from accelerator.web.rendering import SECURITY_HEADERS, render
from accelerator.web.wording import long_date
from schemas import CertificateStatus

#: What a token looks like (``certificates.repository.TOKEN_BYTES``): anything else is a 404
#: without a database look-up.
_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """Whether the caller is a browser asking for a page (``Accept`` names ``text/html``);
    anything else gets the JSON document."""
    return "text/html" in request.headers.get("accept", "")


class VerificationController(Controller):
    """The live-verification link printed on certificates: public, no key."""

    path = "/verify/{token:str}"
    tags = ["certificates"]

    @get(
        operation_id="getCertificateStatus",
        summary="A certificate's policy and its status now (public: the link is the secret)",
        description=(
            "The link printed on a certificate of insurance. The status as JSON; a page for "
            "people when `Accept` names `text/html` (a browser). Shows only the policy number, "
            "insurer, named insured, period and status (active, cancelled or lapsed since a "
            "date, expired, not yet active, pending verification, rejected): never a price, a "
            "limit or an address. An unknown or withdrawn link is a 404."
        ),
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=CertificateStatus,
                description="The policy's status now (JSON; a page when `Accept` names text/html)",
                generate_examples=False,
            )
        },
        opt=declares({404: ["certificate_not_found"]}),
    )
    async def show(
        self,
        certificates: NamedDependency[CertificateService],
        request: Request[Any, Any, Any],
        token: FromPath[str],
    ) -> Response[Any]:
        try:
            if not _TOKEN.match(token):
                raise NotFound("certificate", "No certificate has this verification link.")
            status = await certificates.status(token)
        except NotFound:
            if not wants_page(request):
                raise
            return _verification_page(None, 404)
        if not wants_page(request):
            return Response(status, headers={"Cache-Control": "no-store"})
        return _verification_page(status, 200)


def _checked(status: CertificateStatus | None) -> str:
    """When the status was read, on the marketplace's clock: ``7 December 2026 at 09:15``."""
    if status is None:
        return ""
    local = local_time(status.checked_at, status.timezone)
    return f"{long_date(local)} at {local:%H:%M}"


def _verification_page(status: CertificateStatus | None, code: int) -> Response[str]:
    html = render(
        "verify.html",
        title="Certificate check" if status else "Certificate not found",
        status=status,
        session=None,
        path="/verify",
        notice=None,
        csrf_token="",
        checked=_checked(status),
    )
    return Response(html, status_code=code, media_type=MediaType.HTML, headers=SECURITY_HEADERS)
