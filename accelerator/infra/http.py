"""Every outbound HTTP client of the service is built here.

httpx is the API everywhere: requests, responses, transports and their errors are httpx's. Under
it we put aiohttp's connector through ``httpx-aiohttp``: httpx's own pool rescans every
connection for each queued request (encode/httpx#3215), a cost that grows with the calls in
flight, and aiohttp's stays flat (docs/performance.md). Tests pass their own transport (respx's
router or ``httpx.MockTransport``) instead.

A partner's calls go straight to the transport, not through ``httpx.AsyncClient.send``: the
client's per-call machinery (auth and redirect flows, the cookie jar, event hooks, a response
timer) is nothing the insurer calls use, and showed in the fan-out's profile. Not keeping a
cookie jar is also what insurer calls should do: one seller's exchange must not carry cookies
into another's (nor does aiohttp's session underneath keep any).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import httpx
from httpx._decoders import SUPPORTED_DECODERS
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions

if TYPE_CHECKING:
    from accelerator.infra.tracing import Tracing

# Under aiohttp only max_connections (the connector's limit) and keepalive_expiry (its
# keepalive_timeout) apply: aiohttp has no cap on idle connections, so max_keepalive_connections
# has no effect (every released connection stays open until keepalive_expiry).
DEFAULT_LIMITS = httpx.Limits(
    max_connections=200, max_keepalive_connections=50, keepalive_expiry=30
)

# What httpx.AsyncClient sends by default, so that insurers see the same requests as before.
# Accept-Encoding is derived as httpx derives it: the encodings its decoders handle (gzip and
# deflate, plus br and zstd when brotli or zstandard is installed), which PartnerClient.send
# decodes when it reads the answer.
_DEFAULT_HEADERS = httpx.Headers(
    {
        "Accept": "*/*",
        "Accept-Encoding": ", ".join(key for key in SUPPORTED_DECODERS if key != "identity"),
        "Connection": "keep-alive",
        "User-Agent": f"python-httpx/{httpx.__version__}",
    }
)


class PartnerClient:
    """The shared HTTP client of one partner: builds its requests, sends them, reads answers.

    Redirects are not followed (the caller refuses them) and no cookies are kept.
    """

    def __init__(
        self, base_url: str, *, timeout_seconds: float, transport: httpx.AsyncBaseTransport
    ) -> None:
        url = httpx.URL(base_url)
        # As httpx.AsyncClient keeps it: paths are joined under the base URL's last segment.
        self.base_url = (
            url if url.raw_path.endswith(b"/") else url.copy_with(raw_path=url.raw_path + b"/")
        )
        self._transport = transport
        # httpx timeouts are per read, connect or pool wait; callers add a deadline per call.
        self._timeout = httpx.Timeout(timeout_seconds).as_dict()

    def build_request(
        self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None
    ) -> httpx.Request:
        merged = _DEFAULT_HEADERS.copy()
        merged.update(headers)  # the call's own headers win, whatever their case
        return httpx.Request(
            method, url, headers=merged, content=content, extensions={"timeout": self._timeout}
        )

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole answer (insurer answers are small)."""
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


class _WholeAnswerTransport(AiohttpTransport):
    """httpx-aiohttp's transport, reading each answer whole in aiohttp.

    Insurer answers are small and always read whole: handing httpx a stream of 16 KB chunks
    (an async generator, each chunk through httpx's decoders and chunker) cost more CPU than
    reading the body in aiohttp. Errors map to httpx's as httpx-aiohttp maps them, reading the
    body included (a read timeout is ``httpx.ReadTimeout``, a cut body ``httpx.ReadError``).
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        with map_aiohttp_exceptions():
            async with self.client.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                # httpx decodes the body (Content-Encoding) when the answer is read.
                auto_decompress=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            ) as answer:
                body = await answer.read()
        extensions = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        # A stream, not content=: httpx adds no Content-Length the insurer did not send, and the
        # body (still Content-Encoded) is decoded when PartnerClient.send reads it.
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=extensions,
        )


def _aiohttp_transport(limits: httpx.Limits) -> AiohttpTransport:
    # httpx's TLS settings, as httpx-aiohttp gives them to its connector: certifi's CA bundle,
    # SSL_CERT_FILE and SSL_CERT_DIR ignored (trust_env=False). Left out, aiohttp would use
    # ssl.create_default_context() (the system store). One context per transport, also kept
    # as the transport's ssl_context.
    ssl_context = httpx.create_ssl_context(trust_env=False)

    def session() -> aiohttp.ClientSession:
        # Built at the first call, inside the running loop, as httpx-aiohttp would build it, but
        # without a cookie jar.
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=ssl_context,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return _WholeAnswerTransport(client=session, verify=ssl_context, trust_env=False)


def build_client(
    base_url: str,
    *,
    timeout_seconds: float,
    limits: httpx.Limits = DEFAULT_LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
    tracing: Tracing | None = None,
) -> PartnerClient:
    """A shared client for one partner. httpx timeouts are per read; callers still wrap each
    call in a deadline of their own. With ``tracing``, each request is a client span, whatever
    the transport underneath (aiohttp's, or a test's)."""
    chosen = transport if transport is not None else _aiohttp_transport(limits)
    return PartnerClient(
        base_url,
        timeout_seconds=timeout_seconds,
        transport=chosen if tracing is None else tracing.client_transport(chosen),
    )
