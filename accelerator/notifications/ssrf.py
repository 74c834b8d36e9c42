"""No server-side request forgery: a subscriber URL may only reach public addresses.

Checked twice. At registration (:func:`check_url`), so an admin or seller learns at once that a
URL is refused and why. And at each delivery inside the connection itself
(:class:`PublicOnlyResolver`, aiohttp's resolver for the delivery client): the addresses the
socket connects to are the ones checked, so a name that resolved to a public address at
registration and to 127.0.0.1 a second later (DNS rebinding) is refused then. An IP literal in
the URL is never resolved by aiohttp, so the sender checks it with :func:`refused_address` before
it connects. Redirects are never followed.

``notifications_allow_private_urls`` (``ACCELERATOR_NOTIFICATIONS_ALLOW_PRIVATE_URLS``, off by
default) allows ``http`` and loopback or private addresses, for local development and tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves a host name to its addresses (tests replace it to control what a name resolves to).
HostResolver = Callable[[str], Awaitable[list[str]]]


#: How long registration waits for a name to resolve.
RESOLVE_TIMEOUT_SECONDS = 5.0


class UnsafeUrl(ValueError):
    """A URL the service will not send to; the message says why."""


def refused_address(address: IpAddress) -> str | None:
    """Why a delivery may not go to ``address`` (None: it may). Refused: loopback, private,
    link-local (cloud metadata at 169.254.169.254), multicast, reserved, unspecified, shared
    (100.64/10) and every other address that is not globally routable, IPv4 or IPv6, an IPv4
    address written as IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo) included."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return refused_address(embedded)
    for label, refused in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if refused:
            return f"{address} is a {label} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


async def system_resolve(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return sorted({str(info[4][0]) for info in infos})


def ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


async def check_url(
    url: str, *, allow_private: bool, resolve: HostResolver = system_resolve
) -> None:
    """Return if deliveries may go to ``url``; raise :class:`UnsafeUrl` saying why not."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from exc
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("the URL must be https")
    if not host:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL may not carry credentials (the signature authenticates us)")
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeUrl("localhost is not a public address")
    literal = ip_literal(host)
    if literal is not None:
        addresses: list[IpAddress] = [literal]
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                found = await resolve(host)
        except TimeoutError as exc:
            raise UnsafeUrl(f"{host} did not resolve within {RESOLVE_TIMEOUT_SECONDS:g} s") from exc
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(f"{host} does not resolve: {exc}") from exc
        addresses = [a for a in (ip_literal(text) for text in found) if a is not None]
        if not addresses:
            raise UnsafeUrl(f"{host} does not resolve")
    for address in addresses:
        if (reason := refused_address(address)) is not None:
            raise UnsafeUrl(f"{host} resolves to a refused address: {reason}")


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver for deliveries: resolves as the system does, and refuses a name any of
    whose addresses is not public, so the connection can only be made to addresses it checked."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = ip_literal(str(result["host"]))
            reason = "unreadable address" if address is None else refused_address(address)
            if reason is not None:
                raise OSError(f"refused to connect to {host}: {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def describe(exc: BaseException) -> str:
    """A short, one-line account of a failed connection."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    # aiohttp's connection errors keep the resolver's or socket's own error apart (its message
    # shows only the errno, None for ours): say it, since it says why.
    cause = getattr(exc, "os_error", None) or exc.__cause__
    if cause is not None and str(cause).strip() and str(cause) not in text:
        text = f"{text} ({str(cause).strip().splitlines()[0]})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "HostResolver",
    "PublicOnlyResolver",
    "UnsafeUrl",
    "check_url",
    "describe",
    "ip_literal",
    "refused_address",
    "system_resolve",
]
