"""Certificate pages: download a policy's certificate, and bring a certificate bought
elsewhere (upload it; check and correct what was read, with every gap and what fixes it;
submit it into the verification queue). Nothing is stored before the seller submits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
from accelerator.errors import DomainError, InvalidInput
from accelerator.infra.errors import ApiProblem
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import SellerService
from accelerator.web.certificate_form import (
    LABELS,
    add_problems,
    form_from_draft,
    submission_from_form,
)
from accelerator.web.errors import as_problem
from accelerator.web.forms import ProfileForm
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.profile import latest_profile, session_of
from accelerator.web.rendering import page
from schemas import CertificateReading

_PROFILE_FIRST = "/app/profile/edit?notice=profile_first"


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


def _details_page(
    request: Request[Any, Any, Any],
    form: ProfileForm,
    currency: str,
    *,
    reading: CertificateReading | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "certificate_reading.html",
        status_code=status_code,
        title="What your certificate says" if reading else "Your policy's details",
        reading=reading,
        form=form,
        labels=LABELS,
        currency=currency,
        error=error,
    )


async def _currency(sellers: SellerService, rulebook: RuleBook, seller_id: str) -> str | None:
    """The seller's marketplace currency, or None before it has a profile."""
    stored = await latest_profile(sellers, seller_id)
    if stored is None:
        return None
    return rulebook.version_at(stored.facts.marketplace, datetime.now(UTC).date()).currency


class CertificatesController(Controller):
    path = "/certificates"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def form(self, request: Request[Any, Any, Any]) -> Response[str]:
        return _upload_page(request)

    @get("/details")
    async def blank(
        self,
        sellers: NamedDependency[SellerService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        """The submission to type from scratch (a certificate that could not be read)."""
        currency = await _currency(sellers, rulebook, session_of(request).seller_id)
        if currency is None:
            return Redirect(_PROFILE_FIRST, status_code=303)
        return _details_page(request, form_from_draft(None), currency)

    @post("/", request_max_body_size=CERTIFICATE_BODY_MAX_BYTES)
    async def upload(
        self,
        certificates: NamedDependency[CertificateService],
        sellers: NamedDependency[SellerService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        session = session_of(request)
        try:
            data = await uploaded_pdf(request)
            reading = await certificates.read_upload(session.principal, session.seller_id, data)
        except CertificateUnreadable as unreadable:
            return _upload_page(request, error=unreadable.message, status_code=422)
        except ApiProblem as refused:
            return _upload_page(
                request, error=refused.detail or refused.title, status_code=refused.status
            )
        except DomainError as error:
            if as_problem(error).code == "seller_not_found":
                return Redirect(_PROFILE_FIRST, status_code=303)
            raise
        form = form_from_draft(reading.draft)
        for missing in reading.missing:
            form.add(missing.field if missing.field in LABELS else None, missing.message)
        currency = await _currency(sellers, rulebook, session.seller_id)
        return _details_page(request, form, currency or "", reading=reading)

    @post("/confirm", status_code=303)
    async def confirm(
        self,
        coverage: NamedDependency[CoverageService],
        sellers: NamedDependency[SellerService],
        rulebook: NamedDependency[RuleBook],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        session = session_of(request)
        currency = await _currency(sellers, rulebook, session.seller_id)
        if currency is None:
            return Redirect(_PROFILE_FIRST, status_code=303)
        sent = await request.form()
        values = {name: str(sent.get(name, "")) for name in LABELS}
        submission, form = submission_from_form(values, currency)
        if submission is None:
            return _details_page(request, form, currency, status_code=422)
        try:
            policy = await coverage.submit(session.principal, session.seller_id, submission)
        except InvalidInput as invalid:
            add_problems(form, invalid.errors)
            return _details_page(request, form, currency, status_code=422)
        except DomainError as error:
            problem = as_problem(error)
            return _details_page(
                request,
                form,
                currency,
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
