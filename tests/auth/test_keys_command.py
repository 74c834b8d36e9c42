"""`accelerator keys create` is typed by hand: it loads what issuing a key needs and no more."""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from accelerator.auth.keys import resolve_key
from accelerator.auth.principal import Role
from accelerator.cli import main
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


def _keys_create(database_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["keys", "create", "--role", "seller", "--seller-id", "s-1"],
        env={"ACCELERATOR_DATABASE_URL": database_url},
    )
    return result.exit_code, result.output


def test_keys_create_before_any_migration_says_what_to_run(tmp_path: Path) -> None:
    code, output = _keys_create(f"sqlite+aiosqlite:///{tmp_path}/never-migrated.db")
    assert code == 1
    [line] = output.strip().splitlines()
    assert line.startswith("Error: the database (SQLite file ")
    assert "has no tables yet: run `accelerator migrate`" in line


def test_keys_create_against_a_database_it_cannot_reach_says_so_in_one_line() -> None:
    with socket.socket() as nothing_listens:  # a port bound but never listened on
        nothing_listens.bind(("127.0.0.1", 0))
        port = nothing_listens.getsockname()[1]
        code, output = _keys_create(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    assert code == 1
    [line] = output.strip().splitlines()
    assert line.startswith(
        f"Error: cannot use the database (postgresql+asyncpg://postgres@127.0.0.1:{port}/x)"
    )


def _invoke(database_url: str, *args: str, **env: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, ["keys", "create", *args], env={"ACCELERATOR_DATABASE_URL": database_url, **env}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "partner"], "Error: a partner key needs --provider (the insurer's id)"),
        (
            ["--role", "claims", "--provider", "meridian"],
            "Error: only partner keys are bound to a provider id",
        ),
        (
            ["--role", "partner", "--provider", "meridian", "--seller-id", "s-1"],
            "Error: only seller keys are bound to a seller id",
        ),
        (
            ["--role", "partner", "--provider", "x" * 65],
            "Error: a provider id is 1 to 64 letters, digits and . _ : - (as in the providers "
            "setting)",
        ),
    ],
)
def test_keys_create_refuses_a_partner_key_bound_wrongly_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    # Refused before the database is even opened: this one was never migrated.
    code, stdout, stderr = _invoke(f"sqlite+aiosqlite:///{tmp_path}/never-migrated.db", *args)
    assert (code, stdout) == (2, "")
    assert stderr.strip().splitlines()[-1] == message


@pytest.mark.parametrize(
    ("env", "noted"),
    [
        ({"ACCELERATOR_PROVIDERS": '{"meridian": {"base_url": "http://m.invalid"}}'}, True),
        ({"ACCELERATOR_PROVIDERS": '{"harbor": {"base_url": "http://h.invalid"}}'}, False),
        ({"ACCELERATOR_SANDBOX_ENABLED": "false"}, True),
    ],
)
async def test_keys_create_issues_a_partner_key_noting_an_insurer_not_configured(
    database: Database, env: dict[str, str], noted: bool
) -> None:
    code, stdout, stderr = await anyio.to_thread.run_sync(
        lambda: _invoke(database.url, "--role", "partner", "--provider", "harbor", **env)
    )
    assert code == 0, stderr
    assert "role partner  provider harbor" in stderr
    assert ("note: no insurer 'harbor' is configured here now" in stderr) is noted
    principal = await resolve_key(database, stdout.strip(), None)
    assert principal is not None
    assert (principal.role, principal.provider_id) == (Role.PARTNER, "harbor")
