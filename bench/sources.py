"""Request sources that build each request when it is sent (for the load generator's processes)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.loadgen import RequestSource, http_request
from providers import signature_headers


@dataclass(frozen=True)
class SignedWebhooks:
    """Harbor-style ``policy_verified`` events, each with a new ``webhook-id`` (``prefix`` keeps
    them unique across measurements), signed with ``secret`` the moment they are sent."""

    host: str
    path: str
    secret: str
    prefix: str
    policy_numbers: tuple[str, ...]

    def body(self, index: int) -> tuple[str, bytes]:
        event_id = f"{self.prefix}-{index}"
        body = json.dumps(
            {
                "id": event_id,
                "kind": "policy_verified",
                "occurred_at": datetime.now(UTC).isoformat(),
                "data": {"policy_number": self.policy_numbers[index % len(self.policy_numbers)]},
            }
        ).encode()
        return event_id, body

    def request(self, index: int) -> bytes:
        event_id, body = self.body(index)
        headers = signature_headers([self.secret], event_id, int(time.time()), body)
        return http_request(
            "POST",
            self.path,
            host=self.host,
            headers={**headers, "Content-Type": "application/json"},
            body=body,
        )


@dataclass(frozen=True)
class Rotation:
    """Takes turns between sources: request ``i`` is source ``i % n``'s request ``i // n``."""

    sources: tuple[RequestSource, ...]

    def request(self, index: int) -> bytes:
        count = len(self.sources)
        return self.sources[index % count].request(index // count)
