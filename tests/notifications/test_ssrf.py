"""No server-side request forgery: which addresses are refused, at registration and inside the
delivery's own connection (so DNS rebinding cannot slip between the check and the connect)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from accelerator.notifications.sender import Sender
from accelerator.notifications.ssrf import (
    PublicOnlyResolver,
    UnsafeUrl,
    check_url,
    refused_address,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2001:db8::1",  # documentation
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address)) is None


async def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    async def resolve(host: str) -> list[str]:
        return ["93.184.215.14", "10.0.0.1"]

    with pytest.raises(UnsafeUrl, match="private"):
        await check_url("https://mixed.example.com/", allow_private=False, resolve=resolve)


async def test_the_development_setting_allows_http_and_loopback() -> None:
    await check_url("http://127.0.0.1:9000/hooks", allow_private=True)
    with pytest.raises(UnsafeUrl, match="https"):
        await check_url("ftp://127.0.0.1/", allow_private=True)


class FixedResolver(AbstractResolver):
    """Resolves every name to one address (what a rebinding DNS server does on the second ask)."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=self.address,
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass


async def test_the_delivery_resolver_refuses_a_name_that_now_resolves_to_loopback() -> None:
    resolver = PublicOnlyResolver(FixedResolver("127.0.0.1"))
    with pytest.raises(OSError, match="loopback"):
        await resolver.resolve("hooks.example.com", 443)
    assert await PublicOnlyResolver(FixedResolver("93.184.215.14")).resolve("a.example", 443)


@pytest.fixture
async def local_receiver() -> Any:
    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path == "/redirect":
            raise web.HTTPTemporaryRedirect("/target")
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1], hits
    await runner.cleanup()


async def test_a_delivery_never_connects_to_a_name_rebound_to_a_private_address(
    local_receiver: Any,
) -> None:
    port, hits = local_receiver
    sender = Sender(allow_private=False, resolver=PublicOnlyResolver(FixedResolver("127.0.0.1")))
    try:
        outcome = await sender.send(f"https://hooks.example.com:{port}/in", {}, b"{}")
    finally:
        await sender.close()
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "loopback" in outcome.error
    assert hits == []


async def test_a_delivery_to_a_private_ip_literal_is_refused_before_connecting(
    local_receiver: Any,
) -> None:
    port, hits = local_receiver
    sender = Sender(allow_private=False)
    try:
        outcome = await sender.send(f"https://127.0.0.1:{port}/in", {}, b"{}")
    finally:
        await sender.close()
    assert outcome.error is not None
    assert outcome.error.startswith("refused")
    assert hits == []


async def test_redirects_are_never_followed(local_receiver: Any) -> None:
    port, hits = local_receiver
    sender = Sender(allow_private=True)
    try:
        outcome = await sender.send(f"http://127.0.0.1:{port}/redirect", {}, b"{}")
    finally:
        await sender.close()
    assert outcome.status_code == 307
    assert not outcome.delivered
    assert hits == ["/redirect"]


async def test_a_name_that_does_not_resolve_in_time_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from accelerator.notifications import ssrf

    async def slow(host: str) -> list[str]:
        await asyncio.sleep(10)
        return ["93.184.215.14"]

    monkeypatch.setattr(ssrf, "RESOLVE_TIMEOUT_SECONDS", 0.01)
    with pytest.raises(UnsafeUrl, match="did not resolve"):
        await check_url("https://slow.example.com/", allow_private=False, resolve=slow)
