"""The admin console without a browser (the API client), on both databases: who may sign in,
its own cookie, CSRF on every post, keys created and revoked, insurers switched, and the audit
log of all of it."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from accelerator.admin.models import AdminActionRow, InsurerSwitchRow
from accelerator.auth.keys import create_key
from accelerator.auth.models import ApiKey
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.notifications.models import AttemptRow as NotificationAttemptRow
from accelerator.notifications.models import EndpointRow, MessageRow
from accelerator.web.session import ADMINS, SELLERS
from accelerator.webhooks.models import InboxEvent
from schemas import InboxStatus
from tests.api.conftest import power_bank_body
from tests.api.policies import certificate
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.web.signing_in import sign_in, token_in

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


async def admin_sign_in(client: Client, secret: str, next_page: str = "/admin") -> str:
    """Sign in to the console; return a form token of the signed-in session."""
    form = await client.get("/admin/sign-in")
    response = await client.post(
        "/admin/sign-in",
        data={"csrf_token": token_in(form.text), "api_key": secret, "next": next_page},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    home = await client.get("/admin")
    assert home.status_code == 200
    return token_in(home.text)


async def count(database: Database, model: type[AdminActionRow] | type[ApiKey]) -> int:
    async with database.reading() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("path", ["/admin", "/admin/keys", "/admin/insurers", "/admin/audit-log"])
async def test_signed_out_operators_are_sent_to_the_console_sign_in(
    client: Client, path: str
) -> None:
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/sign-in")


@pytest.mark.parametrize("role", ["seller", "claims", "partner"])
async def test_only_admin_keys_open_the_console(
    client: Client, database: Database, role: str
) -> None:
    secret = (
        await create_key(
            database,
            Role(role),
            seller_id="s-1" if role == "seller" else None,
            provider_id="meridian" if role == "partner" else None,
        )
    ).secret
    form = await client.get("/admin/sign-in")
    response = await client.post(
        "/admin/sign-in", data={"csrf_token": token_in(form.text), "api_key": secret}
    )
    assert response.status_code == 422
    assert f"This is a {role} key; the admin console opens only with an admin key" in response.text
    assert ADMINS.cookie not in response.headers.get("set-cookie", "")
    assert (await client.get("/admin/keys", follow_redirects=False)).status_code == 303
    assert await count(database, AdminActionRow) == 0


async def test_the_console_has_its_own_cookie_and_a_seller_session_does_not_open_it(
    client: Client, database: Database
) -> None:
    seller = (await create_key(database, Role.SELLER, seller_id="s-1")).secret
    await sign_in(client, seller)
    assert (await client.get("/admin/keys", follow_redirects=False)).status_code == 303
    admin = (await create_key(database, Role.ADMIN, name="Dana")).secret
    form = await client.get("/admin/sign-in")
    response = await client.post(
        "/admin/sign-in",
        data={"csrf_token": token_in(form.text), "api_key": admin},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert f"{ADMINS.cookie}=" in cookie
    for attribute in ("Path=/admin", "HttpOnly", "SameSite=lax"):
        assert attribute in cookie
    # Both sessions live side by side; neither cookie opens the other's pages.
    assert (await client.get("/admin/keys")).status_code == 200
    assert (await client.get("/app/quotes")).status_code == 200
    value = client.cookies.get(ADMINS.cookie)
    assert value
    client.cookies.delete(SELLERS.cookie)
    client.cookies.set(SELLERS.cookie, value)
    assert (await client.get("/app/quotes", follow_redirects=False)).status_code == 303


async def test_the_bootstrap_admin_key_signs_in(client: Client) -> None:
    await admin_sign_in(client, BOOTSTRAP_ADMIN_KEY)
    assert "bootstrap admin" in (await client.get("/admin/audit-log")).text


async def test_posts_without_the_sessions_token_are_refused_and_change_nothing(
    client: Client, database: Database
) -> None:
    await admin_sign_in(client, (await create_key(database, Role.ADMIN, name="Dana")).secret)
    keys_before = await count(database, ApiKey)
    for token in (None, "forged"):
        data = {"name": "Sneaky", "role": "admin"}
        if token:
            data["csrf_token"] = token
        response = await client.post("/admin/keys", data=data)
        assert response.status_code == 403
        assert "This form could not be accepted" in response.text
        assert "/admin" in response.text
    assert await count(database, ApiKey) == keys_before
    response = await client.post(
        "/admin/insurers/meridian/switch-off", data={"reason": "x", "csrf_token": "forged"}
    )
    assert response.status_code == 403
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(InsurerSwitchRow)) == 0


async def test_a_created_key_is_shown_once_and_a_revoked_one_gets_401_from_the_api(
    client: Client, database: Database
) -> None:
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    created = await client.post(
        "/admin/keys",
        data={"csrf_token": token, "name": "Claims engine", "role": "claims"},
    )
    assert created.status_code == 200
    secret = re.search(r'id="new-key"[^>]*value="(acc_[^"]+)"', created.text)
    assert secret, "the new key is not shown"
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert me.status_code == 200
    assert secret.group(1) not in (await client.get("/admin/keys")).text
    async with database.reading() as session:
        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.name == "Claims engine"))
    confirm = await client.get(f"/admin/keys/{key_id}/revoke")
    assert "Revoke this key?" in confirm.text
    revoked = await client.post(
        f"/admin/keys/{key_id}/revoke", data={"csrf_token": token_in(confirm.text)}
    )
    assert revoked.status_code == 200
    assert "The key is revoked" in revoked.text
    # Every process's key cache drops the key when it sees the revocation (on SQLite, by
    # polling): wait for it, generously.
    give_up = time.monotonic() + 30
    while True:
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
        if me.status_code != 200 or time.monotonic() > give_up:
            break
        await anyio.sleep(0.05)
    assert me.status_code == 401
    log = (await client.get("/admin/audit-log")).text
    assert (
        log.index("Revoked an API key") < log.index("Created an API key") < log.index("Signed in")
    )
    assert log.count("Dana") >= 3


async def test_the_create_form_names_each_problem(client: Client, database: Database) -> None:
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    keys_before = await count(database, ApiKey)
    response = await client.post(
        "/admin/keys", data={"csrf_token": token, "name": "", "role": "seller", "seller_id": ""}
    )
    assert response.status_code == 422
    assert 'id="name-error"' in response.text
    assert 'id="seller_id-error"' in response.text
    response = await client.post(
        "/admin/keys",
        data={"csrf_token": token, "name": "x", "role": "partner", "provider_id": "bad id!"},
    )
    assert response.status_code == 422
    assert 'id="provider_id-error"' in response.text
    response = await client.post(
        "/admin/keys", data={"csrf_token": token, "name": "x", "role": "root"}
    )
    assert response.status_code == 422
    assert await count(database, ApiKey) == keys_before


async def test_revoking_an_unknown_key_is_a_not_found_page(
    client: Client, database: Database
) -> None:
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    response = await client.post("/admin/keys/nope/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text
    assert "another seller" not in response.text


async def test_signing_out_ends_the_session_and_is_recorded(
    client: Client, database: Database
) -> None:
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    response = await client.post(
        "/admin/sign-out", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.headers["location"] == "/admin/sign-in?notice=signed_out"
    assert (await client.get("/admin/keys", follow_redirects=False)).status_code == 303
    async with database.reading() as session:
        actions = (await session.scalars(select(AdminActionRow.action))).all()
    assert sorted(actions) == ["session.signed_in", "session.signed_out"]


async def submit_certificate(client: Client, database: Database, **changes: Any) -> str:
    """Seller s-1 (profiled) submits a certificate; the policy's id."""
    seller = await create_key(database, Role.SELLER, seller_id="s-1")
    headers = {"Authorization": f"Bearer {seller.secret}"}
    profile = await client.put("/v1/sellers/s-1/profile", json=power_bank_body(), headers=headers)
    assert profile.status_code == 200, profile.text
    submitted = await client.post(
        "/v1/sellers/s-1/policies", json=certificate(**changes), headers=headers
    )
    assert submitted.status_code == 201, submitted.text
    policy_id: str = submitted.json()["id"]
    return policy_id


async def test_a_submitted_certificate_is_verified_from_the_queue_beside_its_gaps(
    client: Client, database: Database, admin_headers: dict[str, str]
) -> None:
    policy_id = await submit_certificate(client, database, additional_insureds=[])
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    queue = await client.get("/admin/verification")
    assert "Harbor Mutual policy HM-1" in queue.text
    assert "What the rules find" in queue.text
    assert "✗ additional_insured" in queue.text
    assert "Insurer <strong>harbor</strong>" not in queue.text  # no insurer is configured here
    assert "No configured insurer" in queue.text
    # A rejection needs a reason; nothing is recorded without one.
    refused = await client.post(
        f"/admin/verification/{policy_id}/reject", data={"csrf_token": token, "reason": ""}
    )
    assert refused.status_code == 422
    assert "Say why the policy is rejected" in refused.text
    verified = await client.post(
        f"/admin/verification/{policy_id}/verify", data={"csrf_token": token, "reason": "checked"}
    )
    assert "The policy is verified" in verified.text
    assert "No certificate is waiting" in verified.text
    document = await client.get(f"/v1/policies/{policy_id}", headers=admin_headers)
    assert document.json()["verification"] == "verified"
    again = await client.post(
        f"/admin/verification/{policy_id}/reject", data={"csrf_token": token, "reason": "late"}
    )
    assert "already decided" in again.text
    assert (await client.get(f"/v1/policies/{policy_id}", headers=admin_headers)).json()[
        "verification"
    ] == "verified"
    assert "Verified a submitted policy" in (await client.get("/admin/audit-log")).text


async def parked_delivery(database: Database) -> int:
    now = datetime.now(UTC)
    async with database.writing() as session:
        row = InboxEvent(
            provider_id="meridian",
            webhook_id="msg_parked_1",
            headers={"webhook-id": "msg_parked_1", "content-type": "application/json"},
            body=b'{"type": "policy.cancelled"}',
            status=InboxStatus.PARKED,
            attempts=3,
            error="no policy MP-404 on record yet",
            received_at=now,
            next_attempt_at=now + timedelta(days=1),
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_a_parked_delivery_is_listed_with_its_error_and_reprocessed(
    client: Client, database: Database
) -> None:
    inbox_id = await parked_delivery(database)
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    assert "nothing here needs you" in (await client.get("/admin/inbox")).text
    parked = await client.get("/admin/inbox?status=parked")
    assert "no policy MP-404 on record yet" in parked.text
    response = await client.post(
        f"/admin/inbox/{inbox_id}/reprocess", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.headers["location"] == "/admin/inbox?status=parked&notice=reprocessed"
    async with database.reading() as session:
        row = await session.get(InboxEvent, inbox_id)
        assert row is not None
        # Due now (a worker may already have taken it up again).
        assert row.status != InboxStatus.PARKED or row.attempts > 3
    log = (await client.get("/admin/audit-log")).text
    assert "Reprocessed an inbound delivery" in log
    assert f"delivery {inbox_id} from meridian" in log
    missing = await client.post("/admin/inbox/999999/reprocess", data={"csrf_token": token})
    assert missing.status_code == 404


async def endpoint_with_a_failed_message(database: Database) -> tuple[str, int]:
    now = datetime.now(UTC)
    async with database.writing() as session:
        session.add(
            EndpointRow(
                id="ep_admin_1",
                url="https://hooks.example/accelerator",
                event_types=[],
                seller_id=None,
                marketplace="US",
                secrets=[{"secret": "whsec_" + "a" * 32, "expires_at": None}],
                enabled=False,
                disabled_reason="failed for 5 days without a success",
                failing_since=now - timedelta(days=5),
                created_at=now - timedelta(days=6),
                updated_at=now,
            )
        )
        await session.flush()
        message = MessageRow(
            endpoint_id="ep_admin_1",
            event_id="evt_1",
            event_type="policy.cancelled",
            body=b"{}",
            status="failed",
            attempts=1,
            next_attempt_at=now,
            last_error="HTTP 500",
            created_at=now - timedelta(days=5),
        )
        session.add(message)
        await session.flush()
        session.add(
            NotificationAttemptRow(
                message_id=message.id,
                attempted_at=now - timedelta(days=5),
                status_code=500,
                error=None,
                latency_ms=12.0,
            )
        )
        return "ep_admin_1", message.id


async def test_an_outbound_message_is_shown_with_its_attempts_and_sent_again(
    client: Client, database: Database
) -> None:
    endpoint_id, message_id = await endpoint_with_a_failed_message(database)
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    listing = await client.get("/admin/endpoints")
    assert "failed for 5 days without a success" in listing.text
    detail = await client.get(f"/admin/endpoints/{endpoint_id}")
    assert "HTTP 500" in detail.text
    assert "✗ Given up" in detail.text
    replayed = await client.post(
        f"/admin/endpoints/{endpoint_id}/messages/{message_id}/replay", data={"csrf_token": token}
    )
    assert "The message is queued to be sent again" in replayed.text
    async with database.reading() as session:
        message = await session.get(MessageRow, message_id)
        assert message is not None
        assert message.status == "pending"
    bad = await client.post(
        f"/admin/endpoints/{endpoint_id}/replay", data={"csrf_token": token, "since": "yesterday"}
    )
    assert bad.status_code == 422
    assert 'id="since-error"' in bad.text
    since = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    all_since = await client.post(
        f"/admin/endpoints/{endpoint_id}/replay", data={"csrf_token": token, "since": since}
    )
    assert "Those messages are queued to be sent again" in all_since.text
    log = (await client.get("/admin/audit-log")).text
    assert "Sent an outbound message again" in log
    assert "1 message(s) created since" in log
    assert (await client.get("/admin/endpoints/nope")).status_code == 404


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/insurers/a%00b/switch-on", {}),
        ("/admin/insurers/meridian/switch-off", {"reason": "down\x00now"}),
        ("/admin/verification/a%00b/verify", {"reason": ""}),
        ("/admin/keys/a%00b/revoke", {}),
        ("/admin/inbox/99999999999999999999/reprocess", {}),
        ("/admin/endpoints/a%00b/replay", {"since": "2026-12-01T00:00"}),
        ("/admin/endpoints/ep/messages/99999999999999999999/replay", {}),
        ("/admin/endpoints/ep/replay", {"since": "0001-01-01T00:00"}),
    ],
)
async def test_nothing_typed_into_an_address_or_a_form_is_a_500(
    client: Client, database: Database, path: str, data: dict[str, str]
) -> None:
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    response = await client.post(path, data={"csrf_token": token, **data})
    assert response.status_code in (404, 422), response.text
    assert (await client.get("/admin/endpoints/a%00b")).status_code == 404
    assert (await client.get("/admin/audit-log?page=99999999999")).status_code == 200


async def test_with_no_insurer_configured_the_page_says_so_and_nothing_can_be_switched(
    client: Client, database: Database
) -> None:
    token = await admin_sign_in(
        client, (await create_key(database, Role.ADMIN, name="Dana")).secret
    )
    assert "No insurer is configured" in (await client.get("/admin/insurers?days=30")).text
    response = await client.post(
        "/admin/insurers/harbor/switch-off", data={"csrf_token": token, "reason": "down"}
    )
    assert response.status_code == 404
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(InsurerSwitchRow)) == 0
