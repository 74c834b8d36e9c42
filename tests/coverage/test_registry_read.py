"""The coverage check's one read (every row in one JSON document) gives the events the ORM
reads from the same rows, in UTC, and tells a seller without policies from an unknown one."""

from __future__ import annotations

from datetime import UTC

import pytest

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.coverage import repository
from accelerator.coverage.events import to_event
from accelerator.infra.database import Database
from tests.api.conftest import Client, Headers, power_bank_body
from tests.api.policies import certificate

pytestmark = pytest.mark.anyio


async def _seller(client: Client, database: Database, seller_id: str) -> Headers:
    issued = await create_key(database, Role.SELLER, seller_id=seller_id)
    headers = {"Authorization": f"Bearer {issued.secret}"}
    profile = await client.put(
        f"/v1/sellers/{seller_id}/profile", json=power_bank_body(), headers=headers
    )
    assert profile.status_code == 200, profile.text
    return headers


async def test_the_checks_read_gives_the_stored_events_as_the_orm_reads_them(
    client: Client, database: Database, admin_headers: Headers
) -> None:
    seller = await _seller(client, database, "s-1")
    await _seller(client, database, "s-2")  # a profile, no policy
    policy_ids = []
    for number in ("P-1", "P-2"):
        submitted = await client.post(
            "/v1/sellers/s-1/policies", json=certificate(policy_number=number), headers=seller
        )
        assert submitted.status_code == 201, submitted.text
        policy_ids.append(submitted.json()["id"])
    rejected = await client.post(
        f"/v1/policies/{policy_ids[1]}/reject", json={"reason": "forged"}, headers=admin_headers
    )
    assert rejected.status_code == 200, rejected.text

    found, names = await repository.sellers_with_events(database.lookups, ["s-1", "s-2", "s-9"])

    assert set(names) == {"s-1", "s-2"}  # s-9 has no profile
    assert set(found) == {"s-1"}  # s-2 has no policy
    async with database.reading() as session:
        for policy_id in policy_ids:
            rows = await repository.policy_events(session, policy_id)
            stored = [
                to_event(r.event_id, r.kind, r.effective_at, r.recorded_at, r.data) for r in rows
            ]
            source, events = found["s-1"][policy_id]
            assert source.value == "submitted"
            assert sorted(events, key=lambda e: e.event_id) == sorted(
                stored, key=lambda e: e.event_id
            )
            assert all(e.recorded_at.tzinfo is UTC and e.effective_at.tzinfo is UTC for e in events)
    rejection = [e for e in found["s-1"][policy_ids[1]][1] if e.reason]
    assert [e.reason for e in rejection] == ["forged"]


async def test_a_read_naming_no_known_seller_finds_nothing(database: Database) -> None:
    assert await repository.sellers_with_events(database.lookups, ["nobody"]) == ({}, {})
