"""Certificates in the API: download a policy's certificate, read an uploaded one, and the
public live-verification link printed on each certificate."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role
from accelerator.certificates.reading import CertificateUnreadable
from accelerator.certificates.service import CertificateService
from accelerator.infra.errors import ApiProblem
from accelerator.infra.openapi import RawBody, declares
from accelerator.infra.params import PolicyId, SellerId
from schemas import CertificateReading, FieldProblem

PDF_MEDIA_TYPE: Final = "application/pdf"
#: The largest certificate accepted: a one- or two-page ACORD 25 is well under 1 MB, a scan a
#: few MB.
CERTIFICATE_MAX_BYTES: Final = 5 * 1024 * 1024
#: The multipart body around it: the file, its part headers and the form token.
CERTIFICATE_BODY_MAX_BYTES: Final = CERTIFICATE_MAX_BYTES + 64 * 1024
FILE_FIELD: Final = "file"

UPLOAD_BODY = RawBody(
    description=(
        "`multipart/form-data` with one field, `file`: the certificate as a PDF of at most "
        f"{CERTIFICATE_MAX_BYTES:,} bytes (5 MB)."
    ),
    examples={"multipart/form-data": "(the PDF file in the field `file`)"},
    file_field=FILE_FIELD,
)


def too_large() -> ApiProblem:
    return ApiProblem(
        413,
        "payload_too_large",
        "The body is too large",
        f"The certificate must be a PDF of at most {CERTIFICATE_MAX_BYTES:,} bytes (5 MB).",
    )


def unreadable(error: CertificateUnreadable) -> ApiProblem:
    """A certificate that cannot be read: a 422 naming the file field."""
    return ApiProblem(
        422,
        error.code,
        "The certificate could not be read",
        error.message,
        errors=[FieldProblem(FILE_FIELD, error.code, error.message)],
    )


async def uploaded_pdf(request: Request[Any, Any, Any]) -> bytes:
    """The bytes of the form's ``file`` field: 415 for a body that is not a multipart form,
    413 past the limit, 422 naming ``file`` when it is missing or empty."""
    media_type, _ = request.content_type
    if media_type != "multipart/form-data":
        sent = f"it was sent as {media_type}" if media_type else "it was sent without a type"
        raise ApiProblem(
            415,
            "unsupported_media_type",
            "The body must be a multipart form",
            f"Send the certificate as multipart/form-data in the field `file`; {sent}.",
        )
    try:
        form = await request.form()
    except ClientException as exc:  # no boundary, a part cut short: Litestar's bare 400
        raise ApiProblem(
            400,
            "malformed_multipart",
            "The form could not be read",
            "The body is not a well-formed multipart/form-data form (its boundary and parts); "
            "send the certificate in the field `file`.",
        ) from exc
    try:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            message = "Attach the certificate as a PDF file in the field `file`."
            raise ApiProblem(
                422,
                "file_required",
                "No certificate was attached",
                message,
                errors=[FieldProblem(FILE_FIELD, "file_required", message)],
            )
        data = await upload.read(CERTIFICATE_MAX_BYTES + 1)
    finally:
        # Files spooled to disk are closed at once, whichever fields were sent.
        for value in form.values():
            if isinstance(value, UploadFile):
                await value.close()
    if len(data) > CERTIFICATE_MAX_BYTES:
        raise too_large()
    if not data:
        message = "The file is empty: attach the certificate as a PDF file."
        raise ApiProblem(
            422,
            "empty_file",
            "The certificate is empty",
            message,
            errors=[FieldProblem(FILE_FIELD, "empty_file", message)],
        )
    return data


class PolicyCertificateController(Controller):
    path = "/v1/policies/{policy_id:str}/certificate.pdf"
    tags = ["coverage"]
    guards = [requires(Role.SELLER, Role.CLAIMS)]

    @get(
        operation_id="getPolicyCertificate",
        summary="The policy's certificate of insurance (PDF), with its live-verification link",
        description=(
            "For a policy bought here or verified: insurer and rating, policy number, period "
            "(dates in the marketplace's time zone), limits, deductible, named insured, "
            "additional insured wording, territories, categories, policy form, when it was "
            "issued, and a link anyone can open to see the policy's status now "
            "(`GET /verify/{token}`). A seller key gets only its own seller's."
        ),
        media_type=PDF_MEDIA_TYPE,
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=bytes,
                media_type=PDF_MEDIA_TYPE,
                description="The certificate as a PDF document",
                generate_examples=False,
                examples=[Example(summary="A PDF document", value="%PDF-1.3 …")],
            )
        },
        opt=declares({404: ["policy_not_found"], 409: ["certificate_unavailable"]}),
    )
    async def download(
        self,
        certificates: NamedDependency[CertificateService],
        request: Request[Principal, Any, Any],
        policy_id: FromPath[PolicyId],
    ) -> Response[bytes]:
        pdf = await certificates.certificate(request.user, policy_id)
        return Response(pdf, media_type=PDF_MEDIA_TYPE, headers=download_headers(policy_id))


def download_headers(policy_id: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="certificate-{policy_id}.pdf"',
        "Cache-Control": "no-store",
    }


class SellerCertificateController(Controller):
    path = "/v1/sellers/{seller_id:str}/certificates"
    tags = ["coverage"]
    guards = [requires(Role.SELLER)]

    @post(
        operation_id="readSellerCertificate",
        summary="Read an ACORD 25-style certificate (PDF) into a pre-filled policy submission",
        description=(
            "Reads the PDF's form fields when it has them, else its text, into the fields of "
            "`POST /v1/sellers/{seller_id}/policies`, and lists every gap against the "
            "marketplace's rules in force today, each with the wording that would fix it. "
            "Nothing is stored: submit `submission` to that endpoint to enter the "
            "verification queue. A file that is not a PDF, is password-protected, damaged or "
            "a scan without text is a 422 naming the field `file`."
        ),
        status_code=HTTP_200_OK,
        request_max_body_size=CERTIFICATE_BODY_MAX_BYTES,
        opt=declares(
            {
                400: ["malformed_multipart"],
                404: ["seller_not_found"],
                415: ["unsupported_media_type"],
                422: [
                    "file_required",
                    "empty_file",
                    "not_a_pdf",
                    "encrypted_pdf",
                    "unreadable_pdf",
                    "no_text",
                    "no_certificate_fields",
                ],
            },
            raw_body=UPLOAD_BODY,
        ),
    )
    async def read(
        self,
        certificates: NamedDependency[CertificateService],
        request: Request[Principal, Any, Any],
        seller_id: FromPath[SellerId],
    ) -> CertificateReading:
        data = await uploaded_pdf(request)
        try:
            return await certificates.read_upload(request.user, seller_id, data)
        except CertificateUnreadable as error:
            raise unreadable(error) from error
