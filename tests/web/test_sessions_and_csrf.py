"""Sign-in, sessions and CSRF on the seller pages, without a browser (the API client).

Signed-out visitors are sent to the sign-in form; a bad key is reported next to the key field;
form posts without their page's token change nothing; another seller's requests and offers are
out of reach; and the JSON API neither needs nor accepts the pages' cookies.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from accelerator.auth.keys import create_key, revoke_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import OfferRow, QuoteRequestRow
from accelerator.quoting.runner import record_request, record_result
from accelerator.sellers.models import SellerProfile
from accelerator.web.session import SESSION_COOKIE, SESSION_SECONDS, resolve_session
from tests.api.conftest import power_bank_body
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.quoting.fakes import make_offer, make_request
from tests.web.signing_in import sign_in, token_in

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


async def seller_key(database: Database, seller_id: str) -> str:
    return (await create_key(database, Role.SELLER, seller_id=seller_id)).secret


def error_next_to(html: str, field: str) -> str:
    found = re.search(
        rf'id="{field}-error"><span class="visually-hidden">Error:</span> ([^<]+)<', html
    )
    assert found, f"no error shown next to {field}"
    return found.group(1)


@pytest.mark.parametrize(
    "path",
    [
        "/app",
        "/app/profile",
        "/app/profile/edit",
        "/app/quotes",
        "/app/quotes/q-1",
        "/app/coverage",
    ],
)
async def test_signed_out_visitors_are_sent_to_the_sign_in_form(client: Client, path: str) -> None:
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/app/sign-in")
    if path != "/app":
        assert location == f"/app/sign-in?next={path.replace('/', '%2F')}"


async def test_signing_in_leads_back_to_the_page_asked_for(
    client: Client, database: Database
) -> None:
    secret = await seller_key(database, "s-1")
    form = await client.get("/app/sign-in?next=/app/quotes")
    response = await client.post(
        "/app/sign-in",
        data={"csrf_token": token_in(form.text), "api_key": secret, "next": "/app/quotes"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/app/quotes"
    page = await client.get("/app/quotes")
    assert page.status_code == 200
    assert "<h1>Your quotes</h1>" in page.text


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/app", "/v1/me"])
async def test_sign_in_never_sends_anyone_off_the_pages(
    client: Client, database: Database, elsewhere: str
) -> None:
    form = await client.get("/app/sign-in")
    response = await client.post(
        "/app/sign-in",
        data={
            "csrf_token": token_in(form.text),
            "api_key": await seller_key(database, "s-1"),
            "next": elsewhere,
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/app/profile"


async def test_a_wrong_key_is_reported_next_to_the_key_field(
    client: Client, database: Database
) -> None:
    form = await client.get("/app/sign-in")
    response = await client.post(
        "/app/sign-in", data={"csrf_token": token_in(form.text), "api_key": "acc_not-a-key"}
    )
    assert response.status_code == 422
    assert "This key is not recognised" in error_next_to(response.text, "api_key")
    assert 'aria-invalid="true"' in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert (await client.get("/app/profile", follow_redirects=False)).status_code == 303


@pytest.mark.parametrize("role", ["admin", "claims", "partner"])
async def test_keys_that_are_not_seller_keys_do_not_open_the_pages(
    client: Client, database: Database, role: str
) -> None:
    provider_id = "meridian" if role == "partner" else None
    secret = (
        BOOTSTRAP_ADMIN_KEY
        if role == "admin"
        else (await create_key(database, Role(role), provider_id=provider_id)).secret
    )
    form = await client.get("/app/sign-in")
    response = await client.post(
        "/app/sign-in", data={"csrf_token": token_in(form.text), "api_key": secret}
    )
    assert response.status_code == 422
    assert f"This is {'an' if role == 'admin' else 'a'} {role} key" in error_next_to(
        response.text, "api_key"
    )


async def test_the_session_cookie_is_http_only_same_site_and_scoped_to_the_pages(
    client: Client, database: Database
) -> None:
    form = await client.get("/app/sign-in")
    response = await client.post(
        "/app/sign-in",
        data={"csrf_token": token_in(form.text), "api_key": await seller_key(database, "s-1")},
        follow_redirects=False,
    )
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "Path=/app" in cookie
    assert "SameSite=lax" in cookie
    page = await client.get("/app/profile/edit")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_revoking_the_key_ends_its_sessions_at_once(
    client: Client, database: Database
) -> None:
    issued = await create_key(database, Role.SELLER, seller_id="s-1")
    await sign_in(client, issued.secret)
    assert (await client.get("/app/profile/edit")).status_code == 200
    await revoke_key(database, issued.id)
    assert (await client.get("/app/profile/edit", follow_redirects=False)).status_code == 303


async def test_a_forged_or_expired_session_cookie_is_not_a_session(
    client: Client, database: Database
) -> None:
    await sign_in(client, await seller_key(database, "s-1"))
    value = client.cookies[SESSION_COOKIE]
    assert await resolve_session(database, value) is not None
    key_id, expires, nonce, signature = value.split(".")
    later = time.time() + SESSION_SECONDS + 1
    assert await resolve_session(database, value, now=later) is None
    longer = ".".join((key_id, str(int(expires) + 86_400), nonce, signature))
    assert await resolve_session(database, longer) is None
    other = await create_key(database, Role.SELLER, seller_id="s-2")
    borrowed = ".".join((other.id, expires, nonce, signature))
    assert await resolve_session(database, borrowed) is None
    client.cookies.clear()
    forged = await client.get(
        "/app/profile/edit",
        headers={"Cookie": f"{SESSION_COOKIE}={longer}"},
        follow_redirects=False,
    )
    assert forged.status_code == 303


async def profile_count(database: Database) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(SellerProfile)) or 0)


async def request_count(database: Database) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(QuoteRequestRow)) or 0)


def profile_form(**changes: str) -> dict[str, str]:
    month = datetime.now(UTC).strftime("%Y-%m")
    return {
        "legal_name": "Volt Goods LLC",
        "marketplace": "US",
        f"sales_{month}": "14000",
        "category_0": "home/furniture",
        "share_0": "100",
        "business_model": "importer",
        "fulfilment": "marketplace_fulfilled",
        "years_in_business": "2",
        "claims_count": "0",
        "claims_paid": "0",
        "recalls": "0",
        "manufacturing_countries": "CN",
        **changes,
    }


async def test_a_form_post_without_the_token_changes_nothing(
    client: Client, database: Database
) -> None:
    token = await sign_in(client, await seller_key(database, "s-1"))
    refused = await client.post("/app/profile/edit", data=profile_form())
    assert refused.status_code == 403
    assert "This form could not be accepted" in refused.text
    assert await profile_count(database) == 0
    wrong = await client.post("/app/profile/edit", data=profile_form(csrf_token=token + "x"))
    assert wrong.status_code == 403
    assert await profile_count(database) == 0

    saved = await client.post(
        "/app/profile/edit", data=profile_form(csrf_token=token), follow_redirects=False
    )
    assert saved.status_code == 303
    assert await profile_count(database) == 1
    assert (await client.post("/app/quotes", data={})).status_code == 403
    assert await request_count(database) == 0
    # Sign-out too: a forged page cannot sign the seller out.
    assert (await client.post("/app/sign-out", data={})).status_code == 403
    assert (await client.get("/app/profile")).status_code == 200


async def test_the_sign_in_form_needs_its_token_too(client: Client, database: Database) -> None:
    await client.get("/app/sign-in")  # the browser holds the sign-in cookie, the post omits it
    response = await client.post(
        "/app/sign-in",
        data={"api_key": await seller_key(database, "s-1")},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_token_from_another_sellers_session_is_refused(
    client: Client, database: Database
) -> None:
    other_token = await sign_in(client, await seller_key(database, "s-2"))
    client.cookies.clear()
    await sign_in(client, await seller_key(database, "s-1"))
    response = await client.post("/app/profile/edit", data=profile_form(csrf_token=other_token))
    assert response.status_code == 403
    assert await profile_count(database) == 0


async def a_request_with_an_offer(database: Database) -> tuple[str, str]:
    """Seller s-1's quote request ``req-web`` with one open, bindable offer."""
    insurers: Any = {"harbor": SimpleNamespace(adapter=SimpleNamespace(insurer_name="Harbor"))}
    await record_request(
        database, make_request("req-web"), insurers, datetime.now(UTC) + timedelta(seconds=5)
    )
    await record_result(
        database,
        "req-web",
        InsurerResult(
            provider_id="harbor",
            insurer_name="Harbor",
            status="offered",
            offers=[make_offer("harbor")],
        ),
    )
    async with database.reading() as session:
        offer_id = await session.scalar(select(OfferRow.id))
    assert offer_id is not None
    return "req-web", offer_id


async def test_another_sellers_quotes_and_offers_are_out_of_reach(
    client: Client, database: Database
) -> None:
    owner = await seller_key(database, "s-1")
    # The owner's profile (through the API), then its request with an offer.
    put = await client.put(
        "/v1/sellers/s-1/profile",
        json=power_bank_body(categories={"home/furniture": "1"}),
        headers={"Authorization": f"Bearer {owner}"},
    )
    assert put.status_code == 200
    request_id, offer_id = await a_request_with_an_offer(database)

    token = await sign_in(client, await seller_key(database, "s-2"))
    for path in (
        f"/app/quotes/{request_id}",
        f"/app/quotes/{request_id}/live",
        f"/app/quotes/{request_id}/offers/{offer_id}",
    ):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert "Page not found" in response.text
        assert "Harbor" not in response.text
    bind = await client.post(
        f"/app/quotes/{request_id}/offers/{offer_id}",
        data={"csrf_token": token, "idempotency_key": "k-1"},
    )
    assert bind.status_code == 404
    async with database.reading() as session:
        offer = await session.get(OfferRow, offer_id)
    assert offer is not None
    assert offer.status == "open"
    listing = await client.get("/app/quotes")
    assert request_id not in listing.text

    # The owner sees its own request and offer.
    client.cookies.clear()
    await sign_in(client, owner)
    page = await client.get(f"/app/quotes/{request_id}")
    assert page.status_code == 200
    assert f"/app/quotes/{request_id}/offers/{offer_id}" in page.text


async def test_the_json_api_needs_no_form_token_and_ignores_the_page_cookie(
    client: Client, database: Database
) -> None:
    secret = await seller_key(database, "s-1")
    await sign_in(client, secret)
    # With the session cookie but no key, the API refuses: cookies are the pages' alone. (The
    # cookie is scoped to /app, so it is sent by hand, as a script could.)
    cookie = {"Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"}
    assert (await client.get("/v1/me", headers=cookie)).status_code == 401
    response = await client.put(
        "/v1/sellers/s-1/profile",
        json=power_bank_body(),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200
    assert msgspec.json.decode(response.content)["seller_id"] == "s-1"


async def test_a_signed_in_seller_asking_for_the_sign_in_form_goes_on_to_its_pages(
    client: Client, database: Database
) -> None:
    await sign_in(client, await seller_key(database, "s-1"))
    response = await client.get("/app/sign-in?next=/app/coverage", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/coverage"
    # ... and the header's sign-out form on the pages still works.
    page = await client.get("/app/coverage")
    signed_out = await client.post(
        "/app/sign-out", data={"csrf_token": token_in(page.text)}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert SESSION_COOKIE not in client.cookies


# "²" passes str.isdigit() but not int(); thirteen digits are past any real expiry.
@pytest.mark.parametrize(
    "expires", ["\u00b2", "12a", "9" * 13], ids=["superscript", "letters", "long"]
)
async def test_a_malformed_session_cookie_is_no_session_not_an_error(
    client: Client, database: Database, expires: str
) -> None:
    assert await resolve_session(database, f"k.{expires}.n.s") is None
    response = await client.get(
        "/app/sign-in", headers={"Cookie": f"{SESSION_COOKIE}=k.12a.n.s"}, follow_redirects=False
    )
    assert response.status_code == 200


async def test_control_characters_in_a_form_field_are_reported_next_to_it(
    client: Client, database: Database
) -> None:
    await sign_in(client, await seller_key(database, "s-1"))
    form_page = await client.get("/app/profile/edit")
    response = await client.post(
        "/app/profile/edit",
        data={
            **profile_form(legal_name="Volt\x00Goods LLC"),
            "csrf_token": token_in(form_page.text),
        },
    )
    assert response.status_code == 422
    assert "control characters" in error_next_to(response.text, "legal_name")
    assert await profile_count(database) == 0
