"""``/v1/admin/webhook-endpoints``: registering, reading, changing and removing endpoints, with
problems naming the field, and a seller key confined to its own seller's endpoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from litestar import Litestar

from accelerator.auth.principal import Role
from accelerator.server import runtime_of
from accelerator.settings import Settings
from tests.notifications.conftest import Client, Headers, register

pytestmark = pytest.mark.anyio
ENDPOINTS = "/v1/admin/webhook-endpoints"
KeyFor = Callable[..., Awaitable[Headers]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # As in production: only https URLs to public addresses.
    return msgspec.structs.replace(settings, notifications_allow_private_urls=False)


@pytest.fixture
def resolves_to(app: Litestar, client: Client) -> Callable[[dict[str, list[str]]], None]:
    """Make the service resolve host names as given (no real DNS in tests)."""

    def install(table: dict[str, list[str]]) -> None:
        async def resolve(host: str) -> list[str]:
            if host not in table:
                raise OSError(f"{host}: name not known")
            return table[host]

        runtime = runtime_of(app)
        runtime.replace(
            notifications=dataclasses.replace(runtime.services.notifications, resolve=resolve)
        )

    return install


PUBLIC = {"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]}


async def test_an_admin_registers_reads_changes_and_removes_an_endpoint(
    client: Client, admin_headers: Headers, resolves_to: Any
) -> None:
    resolves_to(PUBLIC)
    created = await register(
        client,
        admin_headers,
        "https://hooks.example.com/in",
        event_types=["policy.cancelled", "policy.cancelled", "policy.lapsed"],
    )
    assert created["secret"].startswith("whsec_")
    endpoint = created["endpoint"]
    assert endpoint["event_types"] == ["policy.cancelled", "policy.lapsed"]
    assert endpoint["enabled"] is True
    assert "secret" not in endpoint
    path = f"{ENDPOINTS}/{endpoint['id']}"

    assert (await client.get(path, headers=admin_headers)).json() == endpoint
    listed = await client.get(ENDPOINTS, params={"limit": 10}, headers=admin_headers)
    assert [e["id"] for e in listed.json()] == [endpoint["id"]]

    changed = await client.patch(
        path, json={"enabled": False, "event_types": []}, headers=admin_headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"]
    assert changed.json()["event_types"] == []

    assert (await client.delete(path, headers=admin_headers)).status_code == 204
    gone = await client.get(path, headers=admin_headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "webhook_endpoint_not_found"


#: URLs a notification endpoint may not have, and what the refusal says about each.
UNSAFE_URLS = [
    ("http://hooks.example.com/in", "https"),
    ("https://localhost/in", "localhost"),
    ("https://127.0.0.1/in", "loopback"),
    ("https://10.1.2.3/in", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[::1]/in", "loopback"),
    ("https://[::ffff:127.0.0.1]/in", "loopback"),
    ("https://0.0.0.0/in", "unspecified"),
    ("https://internal.example.com/in", "private"),
    ("https://rebind.example.com/in", "loopback"),
    ("https://nowhere.example.com/in", "does not resolve"),
    ("https://user:pw@hooks.example.com/in", "credentials"),
    ("https://hooks.example.com:99999/in", "not a valid URL"),
]


async def test_a_url_that_could_reach_a_private_address_is_refused_naming_the_field(
    client: Client, admin_headers: Headers, resolves_to: Any
) -> None:
    resolves_to(
        PUBLIC
        | {
            "internal.example.com": ["10.0.0.7"],
            "rebind.example.com": ["93.184.215.14", "127.0.0.1"],
        }
    )
    # Every URL against one service: a refusal stores nothing another URL could see (checked
    # after each), and a test per URL spent most of its time starting the service again.
    wrong = []
    for url, why in UNSAFE_URLS:
        response = await client.post(ENDPOINTS, json={"url": url}, headers=admin_headers)
        errors = response.json().get("errors") if response.status_code == 422 else None
        refused = (
            errors is not None
            and [error["field"] for error in errors] == ["url"]
            and why in errors[0]["message"]
        )
        if not refused:
            wrong.append(f"{url}: {response.status_code} {response.text}")
        assert (await client.get(ENDPOINTS, headers=admin_headers)).json() == [], url
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://hooks.example.com/in", "event_types": ["policy.exploded"]},
        {"url": "https://hooks.example.com/in", "surprise": True},
        {"url": "https://hooks.example.com/" + "a" * 3000},
        {"url": ""},
        {"url": "https://hooks.example.com/in", "seller_id": "x" * 65},
        {"url": "https://hooks.example.com/in", "marketplace": "usa"},
        {"url": "https://hooks.example.com/in", "event_types": ["policy.bound"] * 40},
    ],
)
async def test_bad_input_is_a_problem_never_a_500(
    client: Client, admin_headers: Headers, resolves_to: Any, body: dict[str, Any]
) -> None:
    resolves_to(PUBLIC)
    response = await client.post(ENDPOINTS, json=body, headers=admin_headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unknown_ids_are_404s_and_huge_ones_422s(
    client: Client, admin_headers: Headers
) -> None:
    assert (await client.get(f"{ENDPOINTS}/ep_nope", headers=admin_headers)).status_code == 404
    huge = await client.get(f"{ENDPOINTS}/{'x' * 100}", headers=admin_headers)
    assert huge.status_code in (400, 422)
    big = await client.get(
        f"{ENDPOINTS}/ep_nope/messages/99999999999/attempts", headers=admin_headers
    )
    assert big.status_code in (400, 422)


async def test_a_seller_key_manages_only_its_own_seller_s_endpoints(
    client: Client, admin_headers: Headers, key_for: KeyFor, resolves_to: Any
) -> None:
    resolves_to(PUBLIC)
    mine = await key_for(Role.SELLER, seller_id="s-1")
    theirs = await key_for(Role.SELLER, seller_id="s-2")
    created = await register(client, mine, "https://hooks.example.com/mine")
    assert created["endpoint"]["seller_id"] == "s-1"  # scoped to its seller without asking
    path = f"{ENDPOINTS}/{created['endpoint']['id']}"

    refused = await client.post(
        ENDPOINTS, json={"url": "https://hooks.example.com/x", "seller_id": "s-2"}, headers=mine
    )
    assert refused.status_code == 403
    for method, url in [
        ("GET", path),
        ("PATCH", path),
        ("DELETE", path),
        ("POST", f"{path}/rotate-secret"),
        ("GET", f"{path}/messages"),
        ("POST", f"{path}/messages/1/replay"),
    ]:
        body = {"json": {"enabled": False}} if method == "PATCH" else {}
        response = await client.request(method, url, headers=theirs, **body)
        assert response.status_code == 404, (method, url, response.text)
    assert (await client.get(ENDPOINTS, headers=theirs)).json() == []
    assert [e["id"] for e in (await client.get(ENDPOINTS, headers=mine)).json()] == [
        created["endpoint"]["id"]
    ]
    # The admin sees every endpoint, and may ask for one seller's.
    assert len((await client.get(ENDPOINTS, headers=admin_headers)).json()) == 1
    other = await client.get(ENDPOINTS, params={"seller_id": "s-2"}, headers=admin_headers)
    assert other.json() == []
    # A seller key's filter cannot widen what it sees.
    assert (await client.get(ENDPOINTS, params={"seller_id": "s-1"}, headers=theirs)).json() == []


async def test_claims_and_partner_keys_may_not_manage_endpoints(
    client: Client, key_for: KeyFor
) -> None:
    claims = await key_for(Role.CLAIMS)
    assert (await client.get(ENDPOINTS, headers=claims)).status_code == 403
