"""Certificate pages: download a policy's certificate, and bring a certificate bought
elsewhere (upload it, read what it says and what it lacks, confirm to submit it)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from accelerator.certificates.controller import (
    CERTIFICATE_BODY_MAX_BYTES,
    CERTIFICATE_MAX_BYTES,
    PDF_MEDIA_TYPE,
    download_headers,
    uploaded_pdf,
)
from accelerator.certificates.reading import CertificateUnreadable
from accelerator.certificates.service import CertificateService
from accelerator.coverage.service import CoverageService
from accelerator.errors import DomainError
from accelerator.infra.errors import ApiProblem
from accelerator.web.errors import as_problem
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.profile import session_of
from accelerator.web.rendering import page
from schemas import CertificateReading, CertificateSubmission

_SUBMISSION = msgspec.json.Decoder(CertificateSubmission)


def _upload_page(
    request: Request[Any, Any, Any], *, error: str | None = None, status_code: int = 200
) -> Response[str]:
    return page(
        request,
        "certificate_upload.html",
        status_code=status_code,
        title="Bring a certificate you already have",
        error=error,
        max_megabytes=CERTIFICATE_MAX_BYTES // (1024 * 1024),
    )


def _reading_page(
    request: Request[Any, Any, Any],
    reading: CertificateReading,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    submission = (
        msgspec.json.encode(reading.submission).decode() if reading.submission is not None else ""
    )
    return page(
        request,
        "certificate_reading.html",
        status_code=status_code,
        title="What your certificate says",
        reading=reading,
        draft=reading.draft,
        submission=submission,
        error=error,
    )


class CertificatesController(Controller):
    path = "/certificates"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def form(self, request: Request[Any, Any, Any]) -> Response[str]:
        return _upload_page(request)

    @post("/", request_max_body_size=CERTIFICATE_BODY_MAX_BYTES)
    async def upload(
        self,
        certificates: NamedDependency[CertificateService],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        session = session_of(request)
        try:
            data = await uploaded_pdf(request)
            reading = await certificates.read_upload(session.principal, session.seller_id, data)
        except CertificateUnreadable as unreadable:
            return _upload_page(request, error=unreadable.message, status_code=422)
        except ApiProblem as refused:
            message = refused.detail or refused.title
            return _upload_page(request, error=message, status_code=refused.status)
        except DomainError as error:
            if as_problem(error).code == "seller_not_found":
                return Redirect("/app/profile/edit?notice=profile_first", status_code=303)
            raise
        return _reading_page(request, reading)

    @post("/confirm", status_code=303)
    async def confirm(
        self,
        coverage: NamedDependency[CoverageService],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        session = session_of(request)
        form = await request.form()
        raw = form.get("submission")
        try:
            submission = _SUBMISSION.decode(raw if isinstance(raw, str) else "")
        except (msgspec.DecodeError, msgspec.ValidationError):
            return _upload_page(
                request,
                error="The certificate's details did not come through: upload it again.",
                status_code=422,
            )
        try:
            policy = await coverage.submit(session.principal, session.seller_id, submission)
        except DomainError as error:
            problem = as_problem(error)
            return _upload_page(
                request,
                error=f"{problem.title}. {problem.detail or ''}".strip(),
                status_code=problem.status,
            )
        return Redirect(f"/app/coverage?notice=submitted#policy-{policy.id}", status_code=303)

    @get("/{policy_id:str}/certificate.pdf")
    async def download(
        self,
        certificates: NamedDependency[CertificateService],
        request: Request[Any, Any, Any],
        policy_id: FromPath[str],
    ) -> Response[bytes]:
        pdf = await certificates.certificate(session_of(request).principal, policy_id)
        return Response(pdf, media_type=PDF_MEDIA_TYPE, headers=download_headers(policy_id))
