"""Signing in to the seller pages with the API client, and the form token of a page."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_in(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


async def sign_in(
    client: AsyncTestClient[Litestar], secret: str, next_page: str = "/app/profile"
) -> str:
    """Sign in through the form; return a form token of the signed-in session."""
    form = await client.get("/app/sign-in")
    response = await client.post(
        "/app/sign-in",
        data={"csrf_token": token_in(form.text), "api_key": secret, "next": next_page},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = await client.get("/app/quotes")
    assert page.status_code == 200
    return token_in(page.text)
