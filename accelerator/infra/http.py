"""Every outbound HTTP client of the service is built here.

httpx is the API of the transports and their errors. Under it we put aiohttp's connector through
``httpx-aiohttp``: httpx's own pool rescans every connection for each queued request
(encode/httpx#3215), a cost that grows with the calls in flight, and aiohttp's stays flat
(docs/performance.md). Tests pass their own transport (respx's router or
``httpx.MockTransport``) instead.

A partner's calls go straight to the transport, not through ``httpx.AsyncClient.send``: the
client's per-call machinery (auth and redirect flows, the cookie jar, event hooks, a response
timer) is nothing the insurer calls use, and showed in the fan-out's profile. Not keeping a
cookie jar is also what insurer calls should do: one seller's exchange must not carry cookies
into another's (nor does aiohttp's session underneath keep any). Over the service's own aiohttp
transport, untraced, they skip httpx's request and response objects as well (they showed in the
profile too): the caller gets an :class:`Outgoing` and an :class:`Answer` whichever way a call
goes, with the headers, bytes, timeouts and errors httpx would have given.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
_DEFAULT_ITEMS = tuple(_DEFAULT_HEADERS.multi_items())


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request as it goes to a partner: its headers as httpx would send them (and list them:
    ``Headers.multi_items()``, names lower-cased, in order), its URL as text."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    content: bytes | None


@dataclass(frozen=True, slots=True)
class Answer:
    """A partner's whole answer: its headers as ``httpx.Headers.multi_items()`` lists them
    (names lower-cased), its body decoded (Content-Encoding)."""

    status_code: int
    headers: list[tuple[str, str]]
    content: bytes


@functools.lru_cache(maxsize=4096)
def partner_target(base_url: str, path: str) -> tuple[str, str]:
    """``path`` under the partner's base URL, as httpx would join them, and the Host httpx
    would send to it, parsed once: httpx parses every URL with a pure-Python RFC 3986 parser,
    and every call of every fan-out would parse the same few URLs again (docs/performance.md).
    """
    base = httpx.URL(base_url)
    url = base.copy_with(raw_path=base.raw_path + httpx.URL(path).raw_path.lstrip(b"/"))
    return str(url), url.netloc.decode("ascii")


def _via_httpx(
    method: str, url: str, headers: dict[str, str], content: bytes | None
) -> list[tuple[str, str]]:
    """The headers httpx.Request sends for this call, with what httpx.AsyncClient adds."""
    merged = _DEFAULT_HEADERS.copy()
    merged.update(headers)  # the call's own headers win, whatever their case
    return httpx.Request(method, url, headers=merged, content=content).headers.multi_items()


def outgoing_headers(
    method: str, url: str, host: str, headers: dict[str, str], content: bytes | None
) -> list[tuple[str, str]]:
    """What :func:`_via_httpx` gives, without building httpx's objects (they showed in the
    fan-out's profile: docs/performance.md): a Host first (unless given), then ``Content-Length:
    0`` for a body-less POST, PUT or PATCH; then httpx.AsyncClient's headers but those the call
    gives (any case); then every header of the call; then the body's Content-Length unless
    given. Anything not ASCII is left to httpx (it refuses it)."""
    if not all(name.isascii() and value.isascii() for name, value in headers.items()):
        return _via_httpx(method, url, headers, content)
    given = [(name.lower(), value) for name, value in headers.items()]
    names = {name for name, _ in given}
    items = [item for item in _DEFAULT_ITEMS if item[0] not in names]
    items += given
    if content and "content-length" not in names:
        items.append(("content-length", str(len(content))))
        names.add("content-length")
    automatic = []
    if "host" not in names:
        automatic.append(("host", host))
    if (
        "content-length" not in names
        and "transfer-encoding" not in names
        and method in ("POST", "PUT", "PATCH")
    ):
        automatic.append(("content-length", "0"))
    return [*automatic, *items] if automatic else items


def _header_items(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """An answer's raw headers as ``httpx.Headers(raw).multi_items()`` lists them: names
    lower-cased, all decoded as ASCII if they can be, else UTF-8, else ISO-8859-1."""
    for encoding in ("ascii", "utf-8"):
        try:
            return [(name.lower().decode(encoding), value.decode(encoding)) for name, value in raw]
        except UnicodeDecodeError:
            continue
    return [(name.lower().decode("iso-8859-1"), value.decode("iso-8859-1")) for name, value in raw]


class PartnerClient:
    """The shared HTTP client of one partner: builds its requests, sends them, reads answers.

    Redirects are not followed (the caller refuses them) and no cookies are kept. Over the
    service's own aiohttp transport (untraced) a call goes to aiohttp directly, with the same
    bytes, timeouts and httpx errors as through the transport; any other transport (a test's,
    or the tracing one) gets an ``httpx.Request``.
    """

    def __init__(
        self, base_url: str, *, timeout_seconds: float, transport: httpx.AsyncBaseTransport
    ) -> None:
        url = httpx.URL(base_url)
        # As httpx.AsyncClient keeps it: paths are joined under the base URL's last segment.
        self.base_url = (
            url if url.raw_path.endswith(b"/") else url.copy_with(raw_path=url.raw_path + b"/")
        )
        self._base_text = str(self.base_url)
        self._transport = transport
        self._direct = transport if isinstance(transport, _WholeAnswerTransport) else None
        # httpx timeouts are per read, connect or pool wait; callers add a deadline per call.
        self._timeout = httpx.Timeout(timeout_seconds).as_dict()
        self._aiohttp_timeout = _aiohttp_timeout(self._timeout)

    def prepare(
        self, method: str, path: str, headers: dict[str, str], content: bytes | None
    ) -> Outgoing:
        """The request for ``path`` under the base URL, with ``headers`` over
        httpx.AsyncClient's defaults."""
        url, host = partner_target(self._base_text, path)
        return Outgoing(method, url, outgoing_headers(method, url, host, headers, content), content)

    async def send(self, request: Outgoing) -> Answer:
        """Send ``request`` and read the whole answer (insurer answers are small)."""
        if self._direct is not None:
            status, reason, raw, body = await self._direct.exchange(
                request.method, request.url, request.headers, request.content, self._aiohttp_timeout
            )
            headers = _header_items(raw)
            if not any(name == "content-encoding" for name, _ in headers):
                return Answer(status, headers, body)
            # Encoded (rare for an insurer's answer): httpx decodes it, as it would have.
            return await _read(_response(status, reason, raw, body, None))
        built = httpx.Request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.content,
            extensions={"timeout": self._timeout},
        )
        return await _read(await self._transport.handle_async_request(built))

    async def aclose(self) -> None:
        await self._transport.aclose()


async def _read(response: httpx.Response) -> Answer:
    try:
        await response.aread()
    finally:
        await response.aclose()
    return Answer(response.status_code, response.headers.multi_items(), response.content)


def _aiohttp_timeout(timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        sock_connect=timeout.get("connect"),
        sock_read=timeout.get("read"),
        connect=timeout.get("pool"),
    )


def _response(
    status: int,
    reason: str | None,
    raw: Sequence[tuple[bytes, bytes]],
    body: bytes,
    request: httpx.Request | None,
) -> httpx.Response:
    extensions = {"http_version": b"HTTP/1.1"}
    if reason:
        extensions["reason_phrase"] = reason.encode()
    # A stream, not content=: httpx adds no Content-Length the insurer did not send, and the
    # body (still Content-Encoded) is decoded when it is read.
    return httpx.Response(
        status,
        headers=raw,
        stream=httpx.ByteStream(body),
        request=request,
        extensions=extensions,
    )


class _WholeAnswerTransport(AiohttpTransport):
    """httpx-aiohttp's transport, reading each answer whole in aiohttp.

    Insurer answers are small and always read whole: handing httpx a stream of 16 KB chunks
    (an async generator, each chunk through httpx's decoders and chunker) cost more CPU than
    reading the body in aiohttp. Errors map to httpx's as httpx-aiohttp maps them, reading the
    body included (a read timeout is ``httpx.ReadTimeout``, a cut body ``httpx.ReadError``).
    """

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        limits: aiohttp.ClientTimeout,
    ) -> tuple[int, str | None, tuple[tuple[bytes, bytes], ...], bytes]:
        """One exchange: the answer's status, reason, raw headers and body (not decoded)."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        with map_aiohttp_exceptions():
            async with self.client.request(
                method,
                url,
                headers=headers,
                data=content or None,
                allow_redirects=False,
                # Decoded (Content-Encoding) as httpx decodes it, when the answer is read.
                auto_decompress=False,
                compress=False,
                timeout=limits,
            ) as answer:
                body = await answer.read()
        return answer.status, answer.reason, answer.raw_headers, body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        status, reason, raw, body = await self.exchange(
            request.method,
            str(request.url),
            request.headers.multi_items(),
            request.content,
            _aiohttp_timeout(request.extensions.get("timeout", {})),
        )
        return _response(status, reason, raw, body, request)


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
