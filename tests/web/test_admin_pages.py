"""An operator's work in the admin console, in a real browser against the real service and the
sandbox insurers, on SQLite and PostgreSQL: a seller key refused at sign-in, a forged form
refused, a key created and revoked (then refused by the API), an insurer switched off (then
skipped by a new quote request), a submitted certificate verified, a parked inbox delivery
reprocessed, an outbound message sent again, and the audit log naming who did each and when.
Screenshots of every console page at both widths go to docs/screenshots/ (the SQLite run)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.notifications.models import AttemptRow, EndpointRow, MessageRow
from accelerator.webhooks.models import InboxEvent
from schemas import InboxStatus
from tests.api.policies import certificate
from tests.web.live_server import LiveService
from tests.web.test_seller_journey import Screens, profiled_seller

OPERATOR = "Dana (operations)"
# How long to wait for what happens in the background (a fan-out of the sandbox insurers ends
# within the live service's 4 s quote deadline; a revocation reaches the key cache in moments):
# room for a loaded machine.
QUOTES_TIMEOUT_SECONDS = 30.0


def api(service: LiveService, method: str, path: str, secret: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{service.url}{path}", headers={"Authorization": f"Bearer {secret}"}, **kwargs
    )


def sign_in(page: Page, secret: str) -> None:
    page.goto("/admin/sign-in")
    page.get_by_label("Admin API key").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def outcome_once_answered(
    service: LiveService, secret: str, request_id: str, provider_id: str
) -> dict[str, Any]:
    """The insurer's outcome of a quote request once it is no longer being asked."""
    give_up = time.monotonic() + QUOTES_TIMEOUT_SECONDS
    while True:
        view = api(service, "GET", f"/v1/quote-requests/{request_id}", secret).json()
        outcome: dict[str, Any] = next(
            o for o in view["outcomes"] if o["provider_id"] == provider_id
        )
        if outcome["status"] != "awaiting" or time.monotonic() > give_up:
            return outcome
        time.sleep(0.1)


async def parked_delivery(db: Database) -> int:
    now = datetime.now(UTC)
    async with db.writing() as session:
        row = InboxEvent(
            provider_id="meridian",
            webhook_id="msg_console_parked",
            headers={"webhook-id": "msg_console_parked", "content-type": "application/json"},
            body=b'{"type": "policy.cancelled"}',
            status=InboxStatus.PARKED,
            attempts=3,
            error="no policy MP-404 on record yet",
            received_at=now,
            # Far off: no worker takes it before the operator does.
            next_attempt_at=now + timedelta(days=1),
        )
        session.add(row)
        await session.flush()
        return row.id


async def failed_message(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.writing() as session:
        session.add(
            EndpointRow(
                id="ep_console",
                url="https://hooks.marketplace.example/insurance",
                event_types=[],
                seller_id=None,
                marketplace="US",
                secrets=[{"secret": "whsec_" + "b" * 32, "expires_at": None}],
                enabled=False,
                disabled_reason="every delivery failed for 5 days",
                failing_since=now - timedelta(days=5),
                created_at=now - timedelta(days=6),
                updated_at=now,
            )
        )
        await session.flush()
        message = MessageRow(
            endpoint_id="ep_console",
            event_id="evt_console_1",
            event_type="policy.cancelled",
            body=b"{}",
            status="failed",
            attempts=1,
            next_attempt_at=now,
            last_error="HTTP 503 from the endpoint",
            created_at=now - timedelta(days=5),
        )
        session.add(message)
        await session.flush()
        session.add(
            AttemptRow(
                message_id=message.id,
                attempted_at=now - timedelta(days=5),
                status_code=503,
                error=None,
                latency_ms=84.0,
            )
        )


def test_an_operator_does_every_admin_task_in_the_browser_and_the_log_names_them(
    page: Page, live_service: LiveService, request: pytest.FixtureRequest
) -> None:
    db = live_service.db
    assert db is not None
    screens = Screens(page, enabled="sqlite" in request.node.callspec.id)
    seller_secret = profiled_seller(live_service, "oak-admin")
    admin = live_service.run(create_key(db, Role.ADMIN, name=OPERATOR))

    # Signed out, the console sends the operator to its sign-in form; a seller key is refused.
    page.goto("/admin/keys")
    expect(page).to_have_url(re.compile(r"/admin/sign-in\?next=%2Fadmin%2Fkeys$"))
    screens.take("admin-01-sign-in")
    page.get_by_label("Admin API key").fill(seller_secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This is a seller key; the admin console opens only with an admin key"
    )
    screens.take("admin-02-sign-in-refused")

    page.get_by_label("Admin API key").fill(admin.secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/keys$"))
    page.goto("/admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Admin console")
    screens.take("admin-03-home")

    # A form whose token is not the session's changes nothing.
    page.goto("/admin/keys")
    page.get_by_label("Name").fill("Forged")
    page.eval_on_selector(
        "form[action='/admin/keys'] input[name=csrf_token]", "input => input.value = 'forged'"
    )
    page.get_by_role("button", name="Create the key").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form could not be accepted")
    screens.take("admin-04-form-refused")
    page.goto("/admin/keys")
    expect(page.get_by_text("Forged", exact=True)).to_have_count(0)

    # Create a key: shown once; it works, then revoked it gets 401.
    page.get_by_label("Name").fill("Claims engine")
    page.get_by_label("What it may do").select_option("claims")
    page.get_by_role("button", name="Create the key").click()
    expect(page.get_by_role("status")).to_contain_text("Key created: Claims engine")
    new_secret = page.get_by_label("The new key").input_value()
    assert new_secret.startswith("acc_")
    assert api(live_service, "GET", "/v1/me", new_secret).status_code == 200
    screens.take("admin-05-key-created")
    page.goto("/admin/keys")
    assert new_secret not in page.content()
    page.get_by_role("link", name="Revoke Claims engine").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke this key?")
    screens.take("admin-06-revoke-key")
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.get_by_role("status")).to_have_text(
        "The key is revoked: it no longer opens anything."
    )
    screens.take("admin-07-keys")
    # The service's key cache drops the key when it sees the revocation (on SQLite, by polling).
    give_up = time.monotonic() + QUOTES_TIMEOUT_SECONDS
    while (me := api(live_service, "GET", "/v1/me", new_secret)).status_code == 200:
        assert time.monotonic() < give_up, "the revoked key is still accepted"
        time.sleep(0.05)
    assert me.status_code == 401

    # Switch Harbor off: a new quote request skips it, saying an operator switched it off.
    page.goto("/admin/insurers")
    page.get_by_text("Switch Harbor Mutual Insurance Company off", exact=True).click()
    page.get_by_label("Why switch Harbor Mutual Insurance Company off").fill(
        "Harbor's API is down for maintenance"
    )
    page.get_by_role("button", name="Switch it off").click()
    expect(page.get_by_role("status")).to_contain_text("The insurer is switched off")
    asked = api(
        live_service, "POST", "/v1/quote-requests", seller_secret, json={"seller_id": "oak-admin"}
    )
    assert asked.status_code in (201, 202), asked.text
    harbor = outcome_once_answered(live_service, seller_secret, asked.json()["id"], "harbor")
    assert (harbor["status"], harbor["reason_code"]) == ("skipped", "switched_off")
    assert harbor["reason"] == (
        "an operator switched this insurer off: Harbor's API is down for maintenance"
    )
    page.goto("/admin/insurers")
    harbor_card = page.get_by_role("region", name=re.compile("^Harbor Mutual"))
    expect(harbor_card).to_contain_text("✗ Switched off")
    expect(harbor_card).to_contain_text("switched_off: 1")
    screens.take("admin-08-insurers")
    page.get_by_role("button", name="Switch Harbor Mutual Insurance Company on").click()
    expect(page.get_by_role("status")).to_contain_text("The insurer is switched on")

    # Verify a submitted certificate from the queue.
    submitted = api(
        live_service, "POST", "/v1/sellers/oak-admin/policies", seller_secret, json=certificate()
    )
    assert submitted.status_code == 201, submitted.text
    page.goto("/admin/verification")
    expect(
        page.get_by_role("heading", name=re.compile("Harbor Mutual policy HM-1"))
    ).to_be_visible()
    screens.take("admin-09-verification")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_contain_text("The policy is verified")
    policy = api(live_service, "GET", f"/v1/policies/{submitted.json()['id']}", admin.secret)
    assert policy.json()["verification"] == "verified"

    # Reprocess a parked inbox delivery.
    inbox_id = live_service.run(parked_delivery(db))
    page.goto("/admin/inbox?status=parked")
    expect(page.get_by_text("no policy MP-404 on record yet")).to_be_visible()
    screens.take("admin-10-inbox")
    page.get_by_role("button", name=f"Reprocess delivery {inbox_id}").click()
    expect(page.get_by_role("status")).to_contain_text("The delivery is due again")

    # Send an outbound message again.
    live_service.run(failed_message(db))
    page.goto("/admin/endpoints")
    expect(page.get_by_text("every delivery failed for 5 days")).to_be_visible()
    screens.take("admin-11-endpoints")
    page.get_by_role("link", name="https://hooks.marketplace.example/insurance").click()
    expect(page.get_by_role("cell", name="HTTP 503")).to_be_visible()
    screens.take("admin-12-endpoint")
    page.get_by_role("button", name=re.compile(r"^Send again message")).click()
    expect(page.get_by_role("status")).to_contain_text("The message is queued to be sent again")

    # The audit log names the operator and the time of each action, newest first.
    page.goto("/admin/audit-log")
    rows = page.locator("tbody tr")
    expected = [
        "Sent an outbound message again",
        "Reprocessed an inbound delivery",
        "Verified a submitted policy",
        "Switched an insurer on",
        "Switched an insurer off",
        "Revoked an API key",
        "Created an API key",
        "Signed in",
    ]
    expect(rows).to_have_count(len(expected))
    today = datetime.now(UTC).strftime("%d %b %Y")
    for index, what in enumerate(expected):
        expect(rows.nth(index)).to_contain_text(what)
        expect(rows.nth(index)).to_contain_text(OPERATOR)
        expect(rows.nth(index)).to_contain_text(today)
    screens.take("admin-13-audit-log")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
