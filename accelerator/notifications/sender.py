"""Sending one signed delivery: the only code that makes the notifications' HTTP calls.

aiohttp, with :class:`~accelerator.notifications.ssrf.PublicOnlyResolver` in its connector (unless
private addresses are allowed), redirects never followed, one overall timeout per attempt, and the
receiver's body never read beyond its status (a receiver answers 2xx fast, or it is a failure).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from accelerator.notifications.ssrf import PublicOnlyResolver, describe, ip_literal, refused_address

#: How long one attempt may take, connecting included.
ATTEMPT_TIMEOUT_SECONDS = 15.0
USER_AGENT = "insurance-accelerator-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: the status code answered, or why there was none."""

    status_code: int | None
    error: str | None
    latency_ms: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """One aiohttp session for every delivery of a process (opened at the first, closed by
    :meth:`close`)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout_seconds: float = ATTEMPT_TIMEOUT_SECONDS,
        resolver: AbstractResolver | None = None,
        max_connections: int = 100,
    ) -> None:
        self.allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._resolver = resolver
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver = self._resolver
            if resolver is None and not self.allow_private:
                resolver = PublicOnlyResolver()
            connector = aiohttp.TCPConnector(
                resolver=resolver, limit=self._max_connections, use_dns_cache=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers={"user-agent": USER_AGENT}
            )
        return self._session

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Outcome:
        """POST ``body`` to ``url``; never raises for what the network or the receiver does."""
        started = time.perf_counter()
        if not self.allow_private:
            # aiohttp connects to an IP literal without asking the resolver: checked here.
            host = urlsplit(url).hostname or ""
            literal = ip_literal(host)
            reason = refused_address(literal) if literal is not None else None
            if reason is not None or host == "localhost" or urlsplit(url).scheme != "https":
                return Outcome(None, f"refused: {reason or 'not an https public URL'}", 0.0)
        try:
            async with self._client().post(
                url,
                data=body,
                headers={**headers, "content-type": "application/json"},
                allow_redirects=False,
            ) as response:
                status = response.status
        except Exception as exc:  # every failure of the network or the receiver is an outcome
            return Outcome(None, describe(exc), _since(started))
        return Outcome(status, None, _since(started))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


__all__ = ["ATTEMPT_TIMEOUT_SECONDS", "Outcome", "Sender"]
