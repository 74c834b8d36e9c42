"""The API keys page: every key, creating one (its secret shown once) and revoking one."""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from accelerator.admin.actions import record_action
from accelerator.auth.keys import (
    IssuedKey,
    KeyRequestError,
    check_key_request,
    create_key,
    list_keys,
    revoke_key,
)
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.web.admin.paging import page_number
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.rendering import page
from accelerator.web.session import current_session

KEYS_PER_PAGE: Final = 50
SELLER_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# A name is shown in lists and the audit log: one line, no control characters.
NAME: Final = re.compile(r"[^\x00-\x1f\x7f-\x9f]{1,200}")
ROLE_WORDS: Final = {
    Role.ADMIN: "Admin (everything, including this console)",
    Role.SELLER: "Seller (one seller's own business)",
    Role.CLAIMS: "Claims (reads every seller's coverage)",
    Role.PARTNER: "Partner (one insurer's own outcomes)",
}


def _form_errors(name: str, role: str, seller_id: str, provider_id: str) -> dict[str, str]:
    """Problems with the create form that the key service does not check itself."""
    errors = {}
    if not NAME.fullmatch(name):
        errors["name"] = (
            "Give the key a name of up to 200 characters on one line: who or what uses it."
        )
    if role not in {r.value for r in Role}:
        errors["role"] = "Choose what the key may do."
    if seller_id and not SELLER_ID.fullmatch(seller_id):
        errors["seller_id"] = "A seller id is 1 to 64 letters, digits and . _ : -"
    elif role in {r.value for r in Role}:
        try:
            check_key_request(
                Role(role), seller_id=seller_id or None, provider_id=provider_id or None
            )
        except KeyRequestError as refused:
            errors[refused.field] = _in_form_words(refused)
    return errors


def _in_form_words(refused: KeyRequestError) -> str:
    """The key service's refusal (worded for the command line) as the form says it."""
    message = (
        str(refused)
        .replace("--seller-id", "a seller id")
        .replace("--provider (the insurer's id)", "an insurer id")
    )
    return message[0].upper() + message[1:] + "."


class KeysController(Controller):
    path = "/keys"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def keys(
        self, db: NamedDependency[Database], request: Request[Any, Any, Any]
    ) -> Response[str]:
        return await self._page(db, request)

    async def _page(
        self,
        db: Database,
        request: Request[Any, Any, Any],
        *,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        issued: IssuedKey | None = None,
    ) -> Response[str]:
        every = list(reversed(await list_keys(db)))  # newest first
        pages = max(1, -(-len(every) // KEYS_PER_PAGE))
        number = min(page_number(request), pages)
        shown = every[(number - 1) * KEYS_PER_PAGE : number * KEYS_PER_PAGE]
        return page(
            request,
            "admin/keys.html",
            status_code=status_code,
            title="API keys",
            keys=shown,
            page_number=number,
            pages=pages,
            errors=errors or {},
            values=values or {},
            issued=issued,
            roles=ROLE_WORDS,
        )

    @post("/", status_code=200)
    async def create(
        self, db: NamedDependency[Database], request: Request[Any, Any, Any]
    ) -> Response[str]:
        session = current_session(request)
        assert session is not None  # the guard let only a signed-in operator through
        form = await request.form()
        values = {
            field: str(form.get(field, "")).strip()
            for field in ("name", "role", "seller_id", "provider_id")
        }
        errors = _form_errors(**values)
        if errors:
            return await self._page(db, request, status_code=422, errors=errors, values=values)
        try:
            issued = await create_key(
                db,
                Role(values["role"]),
                seller_id=values["seller_id"] or None,
                provider_id=values["provider_id"] or None,
                name=values["name"],
            )
        except KeyRequestError as refused:
            errors = {refused.field: _in_form_words(refused)}
            return await self._page(db, request, status_code=422, errors=errors, values=values)
        await record_action(
            db,
            session.principal,
            "key.created",
            f"{issued.name} ({issued.id})",
            f"{issued.role.value} key, prefix {issued.prefix}"
            + (f", seller {issued.seller_id}" if issued.seller_id else "")
            + (f", insurer {issued.provider_id}" if issued.provider_id else ""),
        )
        return await self._page(db, request, issued=issued)

    @get("/{key_id:str}/revoke")
    async def confirm_revoke(
        self, db: NamedDependency[Database], request: Request[Any, Any, Any], key_id: FromPath[str]
    ) -> Response[str]:
        key = next((k for k in await list_keys(db) if k.id == key_id), None)
        if key is None:
            raise NotFoundException()
        session = current_session(request)
        return page(
            request,
            "admin/revoke_key.html",
            title="Revoke this key?",
            key=key,
            own=session is not None and session.principal.key_id == key.id,
        )

    @post("/{key_id:str}/revoke", status_code=303)
    async def revoke(
        self, db: NamedDependency[Database], request: Request[Any, Any, Any], key_id: FromPath[str]
    ) -> Redirect:
        session = current_session(request)
        assert session is not None
        # By id only: the confirmation names one key, whatever a prefix might also match.
        if not any(k.id == key_id for k in await list_keys(db)):
            raise NotFoundException()
        revoked = await revoke_key(db, key_id)
        if revoked is None:
            raise NotFoundException()
        await record_action(
            db,
            session.principal,
            "key.revoked",
            f"{revoked.name} ({revoked.id})",
            f"{revoked.role.value} key, prefix {revoked.prefix}",
        )
        return Redirect("/admin/keys?notice=key_revoked", status_code=303)
