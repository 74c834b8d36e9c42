"""The first start on the embedded database tells a new user how to get in."""

from __future__ import annotations

import re

import pytest

from accelerator.auth.keys import list_keys, resolve_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.web.first_start import DEMO_SELLER_ID, pages_url, welcome

pytestmark = pytest.mark.anyio
URL = "http://127.0.0.1:8000/app"


async def test_the_first_embedded_start_prints_a_demo_seller_key_that_signs_in(
    database: Database,
) -> None:
    message = await welcome(database, URL, embedded=True)
    assert message.startswith(f"Seller pages: {URL}\n")
    [secret] = re.findall(r"acc_\S+", message)
    principal = await resolve_key(database, secret, None)
    assert principal is not None
    assert (principal.role, principal.seller_id) == (Role.SELLER, DEMO_SELLER_ID)

    # Shown once: the next start makes no other key and prints none.
    again = await welcome(database, URL, embedded=True)
    assert "acc_" not in again
    assert "accelerator keys create --role seller" in again
    assert len(await list_keys(database)) == 1


async def test_a_shared_database_gets_no_demo_seller(
    database: Database,
) -> None:
    shared = await welcome(database, URL, embedded=False)
    assert "acc_" not in shared
    assert await list_keys(database) == []


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/app"),
        ("0.0.0.0", "http://127.0.0.1:8000/app"),  # noqa: S104 - an address, not a bind
        ("::1", "http://[::1]:8000/app"),
        ("shop.local", "http://shop.local:8000/app"),
    ],
)
def test_the_printed_address_is_one_a_browser_can_open(host: str, url: str) -> None:
    assert pages_url(host, 8000) == url


async def test_the_start_up_lines_name_the_admin_console_without_making_an_admin_key(
    database: Database,
) -> None:
    message = await welcome(database, URL, embedded=True)
    assert message.splitlines()[-1] == (
        "Admin console: http://127.0.0.1:8000/admin  (sign in with an admin key; make one with "
        '`accelerator keys create --role admin --name "<your name>"`)'
    )
    assert [k.role for k in await list_keys(database)] == [Role.SELLER]
