"""Insurer calls over the real transport: build_client's aiohttp session, a local aiohttp server.

Every call goes through ``caller.send`` exactly as the fan-out sends it, so what is checked is
what the caller and the stored capture see: decoded bodies with the insurer's own headers, the
failures it classifies, no cookies carried between calls, httpx's TLS settings.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from httpx._client import ACCEPT_ENCODING
from hypothesis import given
from hypothesis import strategies as st

from accelerator.infra.http import (
    PartnerClient,
    _header_items,
    _via_httpx,
    build_client,
    outgoing_headers,
    partner_target,
)
from accelerator.insurers.caller import RetryPolicy, TransientFailure, send
from accelerator.insurers.capture import AttemptCapture
from providers import HttpCall, HttpReply

pytestmark = pytest.mark.anyio

PAYLOAD = b'{"outcome": "offered", "offers": [' + b'{"premium": "1200.00"},' * 200 + b"{}]}"


@dataclass
class Insurer:
    """A local aiohttp server standing in for an insurer; it notes what each call carried."""

    base_url: str
    release: asyncio.Event
    requests: list[dict[str, str]] = field(default_factory=list)
    # Each call's headers as they came over the wire: names as sent, in order, repeats kept.
    raw: list[list[tuple[bytes, bytes]]] = field(default_factory=list)


async def _gzip_chunked(request: web.Request) -> web.StreamResponse:
    body = gzip.compress(PAYLOAD)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "X-Insurer-Trace": "trace-1",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(body[:20])
    await response.write(body[20:])
    await response.write_eof()
    return response


async def _cut_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(PAYLOAD)
    await response.prepare(request)
    await response.write(PAYLOAD[:100])
    assert request.transport is not None
    request.transport.close()  # the connection drops with most of the body unsent
    return response


async def _echo(request: web.Request) -> web.Response:
    response = web.Response(body=await request.read(), content_type="application/json")
    # Repeated, and not ASCII: the answer's headers are read as httpx reads them.
    response.headers.add("X-Note", "one")
    response.headers.add("X-Note", "two")
    response.headers["X-Insurer"] = "Zürich"
    return response


async def _cookie(request: web.Request) -> web.Response:
    response = web.json_response({"outcome": "offered"})
    response.set_cookie("insurer_session", "seller-a", path="/")
    return response


@pytest.fixture
async def insurer() -> AsyncIterator[Insurer]:
    app = web.Application()
    runner = web.AppRunner(app, handle_signals=False)
    server = Insurer(base_url="", release=asyncio.Event())

    @web.middleware
    async def note(request: web.Request, handler: Handler) -> web.StreamResponse:
        server.requests.append(dict(request.headers))
        server.raw.append(list(request.raw_headers))
        return await handler(request)

    async def slow(request: web.Request) -> web.Response:
        await server.release.wait()
        return web.json_response({"outcome": "offered"})

    app.middlewares.append(note)
    app.router.add_get("/gzip", _gzip_chunked)
    app.router.add_get("/cut", _cut_body)
    app.router.add_get("/cookie", _cookie)
    app.router.add_get("/slow", slow)
    app.router.add_post("/echo", _echo)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


@pytest.fixture
async def clients() -> AsyncIterator[list[PartnerClient]]:
    """Clients built by a test; each is closed at the end."""
    built: list[PartnerClient] = []
    try:
        yield built
    finally:
        for client in built:
            await client.aclose()


def _client(clients: list[PartnerClient], base_url: str, timeout: float = 5.0) -> PartnerClient:
    client = build_client(base_url, timeout_seconds=timeout)  # the aiohttp transport
    clients.append(client)
    return client


async def _send(client: PartnerClient, path: str, captures: list[AttemptCapture]) -> HttpReply:
    return await send(
        client,
        HttpCall("GET", path),
        idempotency_key="idem-1",
        deadline=asyncio.get_running_loop().time() + 5.0,
        policy=RetryPolicy(max_attempts=1),
        captures=captures,
    )


async def test_a_gzip_answer_is_decoded_and_its_headers_kept(
    insurer: Insurer, clients: list[PartnerClient]
) -> None:
    captures: list[AttemptCapture] = []

    reply = await _send(_client(clients, insurer.base_url), "/gzip", captures)

    assert reply.status == 200
    assert reply.body == PAYLOAD
    headers = {name.lower(): value for name, value in reply.headers.items()}
    assert headers["content-encoding"] == "gzip"
    assert headers["transfer-encoding"] == "chunked"
    assert headers["x-insurer-trace"] == "trace-1"
    assert "content-length" not in headers  # not on the wire, so not in the answer
    assert captures[0].response is not None
    captured = {name.lower() for name in captures[0].response.headers}
    assert "content-length" not in captured
    assert {"content-encoding", "transfer-encoding", "x-insurer-trace"} <= captured
    assert captures[0].response.body == PAYLOAD.decode()
    # The request advertised what httpx itself advertises (and can decode).
    assert insurer.requests[0]["Accept-Encoding"] == ACCEPT_ENCODING


async def test_a_read_timeout_is_insurer_timeout(
    insurer: Insurer, clients: list[PartnerClient]
) -> None:
    captures: list[AttemptCapture] = []
    client = _client(clients, insurer.base_url, timeout=0.2)

    with pytest.raises(TransientFailure) as failure:
        await _send(client, "/slow", captures)

    assert failure.value.code == "insurer_timeout"
    assert isinstance(failure.value.__cause__, httpx.ReadTimeout)
    assert captures[0].error is not None
    assert captures[0].error.startswith("timeout:")


async def test_a_cut_body_is_transient(insurer: Insurer, clients: list[PartnerClient]) -> None:
    captures: list[AttemptCapture] = []

    with pytest.raises(TransientFailure) as failure:
        await _send(_client(clients, insurer.base_url), "/cut", captures)

    assert failure.value.code == "connect_error"
    assert isinstance(failure.value.__cause__, httpx.ReadError)
    assert isinstance(failure.value.__cause__.__cause__, aiohttp.ClientPayloadError)
    assert captures[0].response is None


async def test_an_insurer_cookie_is_not_replayed(
    insurer: Insurer, clients: list[PartnerClient]
) -> None:
    # By host name: aiohttp's cookie jar keeps no cookies from an IP address, so with
    # 127.0.0.1 this would pass even if the client kept cookies.
    base_url = insurer.base_url.replace("127.0.0.1", "localhost")
    client = _client(clients, base_url)

    first = await _send(client, "/cookie", [])
    await _send(client, "/cookie", [])

    assert "insurer_session=seller-a" in first.headers["set-cookie"]
    assert [request.get("Cookie") for request in insurer.requests] == [None, None]


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
async def tls_insurer(self_signed: tuple[Path, Path]) -> AsyncIterator[str]:
    """An HTTPS insurer whose certificate no public CA signed; yields its base URL."""
    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"outcome": "offered"})

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_tls_uses_httpx_ssl_context(
    tls_insurer: str, self_signed: tuple[Path, Path], clients: list[PartnerClient]
) -> None:
    client = _client(clients, tls_insurer)
    # The connector verifies with the transport's httpx context: trusting the certificate
    # there (and nowhere else) is what lets the call through.
    client._transport.ssl_context.load_verify_locations(cafile=self_signed[0])

    reply = await _send(client, "/hello", [])

    assert reply.status == 200


async def test_a_self_signed_insurer_is_refused_whatever_the_environment(
    tls_insurer: str,
    self_signed: tuple[Path, Path],
    clients: list[PartnerClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpx's context with trust_env=False: certifi's bundle, SSL_CERT_FILE ignored.
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))
    client = _client(clients, tls_insurer)

    with pytest.raises(TransientFailure) as failure:
        await _send(client, "/hello", [])

    assert isinstance(failure.value.__cause__, httpx.TransportError)
    assert isinstance(failure.value.__cause__.__cause__, aiohttp.ClientConnectorCertificateError)


class _Relay(httpx.AsyncBaseTransport):
    """Any transport but the service's own: the client goes through httpx's objects."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize(
    "call",
    [
        HttpCall("GET", "/gzip"),
        HttpCall(
            "POST",
            "/echo",
            {"Content-Type": "application/json", "accept": "application/json", "X-Key": "k"},
            b'{"seller": "s-1"}',
        ),
        HttpCall("POST", "/echo", {"Content-Type": "application/json"}),
    ],
    ids=["gzip", "post", "post-without-body"],
)
async def test_the_direct_call_is_the_call_through_httpx(
    call: HttpCall, insurer: Insurer, clients: list[PartnerClient]
) -> None:
    direct = _client(clients, insurer.base_url)
    relayed = PartnerClient(
        insurer.base_url, timeout_seconds=5.0, transport=_Relay(direct._transport)
    )
    sent: list[list[AttemptCapture]] = [[], []]
    replies = []

    for client, captures in zip((direct, relayed), sent, strict=True):
        replies.append(
            await send(
                client,
                call,
                idempotency_key="idem-1",
                deadline=asyncio.get_running_loop().time() + 5.0,
                policy=RetryPolicy(max_attempts=1),
                captures=captures,
            )
        )

    assert replies[0] == replies[1]
    assert insurer.raw[0] == insurer.raw[1]
    assert sent[0][0].request == sent[1][0].request
    assert sent[0][0].response == sent[1][0].response
    assert sent[0][0].url == sent[1][0].url


_NAMES = st.sampled_from(
    [
        "Accept",
        "accept",
        "Content-Length",
        "Host",
        "Transfer-Encoding",
        "User-Agent",
        "X-Key",
        "x-key",
    ]
)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    headers=st.dictionaries(_NAMES, st.sampled_from(["1", "a b", "", "é"]), max_size=5),
    content=st.sampled_from([None, b"", b"{}", b"x" * 300]),
    base=st.sampled_from(["http://insurer.test/v1/", "https://127.0.0.1:8443/"]),
)
def test_the_headers_sent_are_those_httpx_sends(
    method: str, headers: dict[str, str], content: bytes | None, base: str
) -> None:
    url, host = partner_target(base, "/quotes")
    try:
        expected = _via_httpx(method, url, headers, content)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            outgoing_headers(method, url, host, headers, content)
        return

    assert outgoing_headers(method, url, host, headers, content) == expected


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"X-A", b"x-a", b"Content-Type"]),
            st.sampled_from([b"v", b"Z\xc3\xbcrich", b"\xff", b""]),
        ),
        max_size=4,
    )
)
def test_an_answers_headers_are_read_as_httpx_reads_them(raw: list[tuple[bytes, bytes]]) -> None:
    assert _header_items(raw) == httpx.Headers(raw).multi_items()
