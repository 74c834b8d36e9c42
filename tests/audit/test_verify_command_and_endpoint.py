"""``accelerator audit verify`` and ``GET /v1/admin/audit/verify``: intact, then the broken
link named after a row was edited behind the triggers' back."""

from __future__ import annotations

import anyio
import pytest
from click.testing import CliRunner, Result
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.cli import main
from accelerator.infra.database import Database
from tests.audit.trail import seller_trail, tamper

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
VERIFY = "/v1/admin/audit/verify"


async def run_cli(monkeypatch: pytest.MonkeyPatch, database: Database, *args: str) -> Result:
    """The command, against the test's database; in a thread, since it runs its own loop."""
    monkeypatch.setenv("ACCELERATOR_DATABASE_URL", database.url)
    runner = CliRunner()
    return await anyio.to_thread.run_sync(lambda: runner.invoke(main, list(args)))


async def test_the_command_exits_0_on_intact_chains_and_1_naming_the_broken_link(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trails = [await seller_trail(database, seller_id) for seller_id in ("s-1", "s-2")]
    intact = await run_cli(monkeypatch, database, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert "checked 2 sellers, 14 rows" in intact.output
    assert "every chain intact" in intact.output

    receipt = trails[1].receipts[0]
    await tamper(
        database, "UPDATE decision_receipts SET decision = 'not_exempt' WHERE id = :id", id=receipt
    )
    broken = await run_cli(monkeypatch, database, "audit", "verify", "--page-size", "1")
    assert broken.exit_code == 1, broken.output
    assert (
        f"BROKEN [columns_disagree] seller s-2, receipts chain, position 1: receipt {receipt}"
        in (broken.output)
    )
    assert "1 broken chain" in broken.output
    assert "… 1 seller, 7 rows verified, 0 broken chains so far" in broken.stderr

    one = await run_cli(monkeypatch, database, "audit", "verify", "--seller", "s-1")
    assert one.exit_code == 0, one.output
    assert "checked 1 seller, 7 rows" in one.output


def test_the_command_explains_itself() -> None:
    shown = CliRunner().invoke(main, ["audit", "verify", "--help"])
    assert shown.exit_code == 0
    assert "Exits 0 when every chain is intact, 1 when a link is broken" in shown.output


async def test_the_endpoint_answers_intact_then_names_the_broken_link(
    database: Database, client: Client, admin_headers: dict[str, str]
) -> None:
    trails = [await seller_trail(database, seller_id) for seller_id in ("s-1", "s-2", "s-3")]
    response = await client.get(VERIFY, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "intact": True,
        "sellers_checked": 3,
        "rows_checked": 21,
        "broken": [],
        "next_after": None,
    }

    cancellation = trails[0].events[2]
    await tamper(
        database,
        "UPDATE policy_events SET kind = 'lapsed' WHERE event_id = :id",
        id=cancellation,
    )
    page = await client.get(VERIFY, params={"limit": 2}, headers=admin_headers)
    assert page.status_code == 200, page.text
    found = page.json()
    assert (found["intact"], found["sellers_checked"], found["next_after"]) == (False, 2, "s-2")
    [link] = found["broken"]
    assert {k: link[k] for k in ("seller_id", "chain", "position", "row_id", "problem")} == {
        "seller_id": "s-1",
        "chain": "events",
        "position": 3,
        "row_id": cancellation,
        "problem": "content_altered",
    }
    rest = await client.get(VERIFY, params={"limit": 2, "after": "s-2"}, headers=admin_headers)
    assert rest.json()["intact"] is True
    assert rest.json()["next_after"] is None
    one = await client.get(VERIFY, params={"seller_id": "s-1"}, headers=admin_headers)
    assert [b["problem"] for b in one.json()["broken"]] == ["content_altered"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"seller_id": "a b"}])
async def test_the_endpoint_refuses_parameters_out_of_bounds(
    client: Client, admin_headers: dict[str, str], params: dict[str, object]
) -> None:
    response = await client.get(VERIFY, params=params, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_only_admin_keys_may_verify(database: Database, client: Client) -> None:
    assert (await client.get(VERIFY)).status_code == 401
    for role, seller_id in ((Role.SELLER, "s-1"), (Role.CLAIMS, None)):
        key = await create_key(database, role, seller_id=seller_id)
        headers = {"Authorization": f"Bearer {key.secret}"}
        response = await client.get(VERIFY, headers=headers)
        assert response.status_code == 403, role
        assert response.json()["code"] == "forbidden"
