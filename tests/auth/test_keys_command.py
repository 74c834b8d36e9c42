"""`accelerator keys create` is typed by hand: it loads what issuing a key needs and no more."""

from __future__ import annotations

import os
import re
import sys

import anyio
import pytest

from accelerator.auth.keys import resolve_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database

pytestmark = pytest.mark.anyio

# The web framework, the migration tool, the app and the server took seconds to import, and
# issuing a key needs none of them.
NOT_NEEDED = ("litestar", "alembic", "uvicorn", "accelerator.server", "accelerator.audit")


async def test_keys_create_issues_a_key_without_loading_the_app(database: Database) -> None:
    done = await anyio.run_process(
        [sys.executable, "-X", "importtime", "-m", "accelerator",
         "keys", "create", "--role", "seller", "--seller-id", "s-1", "--name", "shop"],
        env={**os.environ, "ACCELERATOR_DATABASE_URL": database.url},
    )  # fmt: skip
    imported = re.findall(r"^import time:.*\|\s*(\S+)$", done.stderr.decode(), re.MULTILINE)
    assert "accelerator.auth.keys" in imported  # the report is read right
    loaded = [name for name in imported if name.startswith(NOT_NEEDED)]
    assert loaded == []

    principal = await resolve_key(database, done.stdout.decode().strip(), None)
    assert principal is not None
    assert (principal.role, principal.seller_id) == (Role.SELLER, "s-1")
