"""What ``accelerator serve`` says about the seller pages and the admin console, and the demo
seller of a first start.

On the embedded default (SQLite) a new user has no key to sign in with and would have to read
the docs to make one; so when no seller key exists yet, the first start makes one for a demo
seller and prints it once with the pages' address.
"""

from __future__ import annotations

from typing import Final

from accelerator.auth.keys import create_key, no_seller_key_yet
from accelerator.auth.principal import Role
from accelerator.infra.database import Database

DEMO_SELLER_ID: Final = "demo-seller"


def pages_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the pages (a wildcard address is not one)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - compared, not bound
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/app"


async def welcome(db: Database, url: str, *, embedded: bool) -> str:
    """The lines to print at start-up; on an embedded database with no seller key yet, this
    creates the demo seller's key and includes it (it is shown this once)."""
    return f"{await _seller_pages(db, url, embedded=embedded)}\n{_admin_console(url)}"


def _admin_console(url: str) -> str:
    # No admin key is made on a first start: an admin key can do everything, so whoever runs
    # the service makes one deliberately (or configures the bootstrap key).
    console = url.removesuffix("/app") + "/admin"
    return (
        f"Admin console: {console}  (sign in with an admin key; make one with "
        '`accelerator keys create --role admin --name "<your name>"`)'
    )


async def _seller_pages(db: Database, url: str, *, embedded: bool) -> str:
    if embedded and await no_seller_key_yet(db):
        issued = await create_key(
            db, Role.SELLER, seller_id=DEMO_SELLER_ID, name="demo seller (first start)"
        )
        return (
            f"Seller pages: {url}\n"
            f"  Sign in with this demo seller key (shown once; keep it):\n"
            f"  {issued.secret}\n"
            "  More keys: accelerator keys create --role seller --seller-id <your-id>"
        )
    return (
        f"Seller pages: {url}  (sign in with a seller key; make one with "
        "`accelerator keys create --role seller --seller-id <your-id>`)"
    )
