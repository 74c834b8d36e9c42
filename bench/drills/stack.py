"""The service as an operator runs it, for the drills: ``accelerator sandbox``, ``accelerator
serve`` and ``accelerator worker`` in processes of their own, on one database.

Processes can be killed with SIGKILL and started again on the same ports, which is what the
crash drill does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from accelerator.auth.principal import Role
from accelerator.infra.database import is_sqlite_url
from bench import processes
from bench.keys import issue_key
from bench.sellers import SELLER_ID, seller_facts
from providers.sandbox import default_sandbox_provider_settings

SECRET = "whsec_ZHJpbGwtY2FsbGJhY2stc2VjcmV0LTAxMjM0NTY3ODk="  # noqa: S105 - drill-only
ADMIN_KEY = "drill-bootstrap-admin-key"


@dataclass
class Stack:
    """Sandbox, API and (on PostgreSQL, when asked) an external inbox worker."""

    database_url: str
    logs: Path
    deadline_seconds: float = 2.0
    external_worker: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    sandbox_port: int = field(default_factory=processes.free_port)
    api_port: int = field(default_factory=processes.free_port)
    sandbox: processes.Child | None = None
    server: processes.Child | None = None
    workers: list[processes.Child] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite_url(self.database_url)

    def providers(self) -> dict[str, Any]:
        settings = default_sandbox_provider_settings(
            self.sandbox_url, f"{self.api}/v1/webhooks/insurers", [SECRET]
        )
        built: dict[str, Any] = msgspec.to_builtins(settings)
        return built

    def env(self) -> dict[str, str]:
        return {
            "ACCELERATOR_DATABASE_URL": self.database_url,
            "ACCELERATOR_SANDBOX_ENABLED": "false",
            "ACCELERATOR_PROVIDERS": json.dumps(self.providers()),
            "ACCELERATOR_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "ACCELERATOR_QUOTE_DEADLINE_SECONDS": str(self.deadline_seconds),
            "ACCELERATOR_INSURER_TIMEOUT_SECONDS": str(self.deadline_seconds),
            "ACCELERATOR_LOG_LEVEL": "WARNING",
            "ACCELERATOR_INBOX_WORKER": "external" if self.external_worker else "in_process",
            **self.extra_env,
        }

    def start(self) -> None:
        """Sandbox and API together (each waits only for the other's port, not its start)."""
        self.start_sandbox(wait=False)
        self.start_server()
        assert self.sandbox is not None
        processes.wait_until_answers(self.sandbox, f"{self.sandbox_url}/_control")

    def start_sandbox(self, *, wait: bool = True) -> None:
        self.sandbox = processes.start(
            "sandbox",
            processes.python(
                "-m", "accelerator", "sandbox",
                "--port", str(self.sandbox_port),
                "--callback-url", f"{self.api}/v1/webhooks/insurers",
                "--secret", SECRET,
            ),
            logs=self.logs,
        )  # fmt: skip
        if wait:
            processes.wait_until_answers(self.sandbox, f"{self.sandbox_url}/_control")

    def start_server(self) -> None:
        self.server = processes.start(
            "server",
            processes.python("-m", "accelerator", "serve", "--port", str(self.api_port)),
            logs=self.logs,
            env=self.env(),
        )
        processes.wait_until_answers(self.server, f"{self.api}/health/ready")

    def start_worker(self, lease_seconds: float = 2.0, batch_size: int = 20) -> processes.Child:
        worker = processes.start(
            f"worker-{len(self.workers) + 1}",
            processes.python(
                "-m", "accelerator", "worker",
                "--lease-seconds", str(lease_seconds),
                "--batch-size", str(batch_size),
                "--poll-interval", "0.1",
            ),
            logs=self.logs,
            env=self.env(),
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for child in [*self.workers, self.server, self.sandbox]:
            if child is not None:
                child.stop(timeout=10)

    def __enter__(self) -> Stack:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- set-up through the API, as a user would -----------------------------------------

    def seller_headers(self) -> dict[str, str]:
        key = issue_key(self.database_url, Role.SELLER, SELLER_ID)
        return {"Authorization": f"Bearer {key}"}

    def profile_seller(self, headers: Mapping[str, str]) -> None:
        answer = httpx.put(
            f"{self.api}/v1/sellers/{SELLER_ID}/profile",
            json=seller_facts(),
            headers=dict(headers),
            timeout=30,
        )
        answer.raise_for_status()

    def set_faults(self, faults: Mapping[str, Mapping[str, Any]]) -> None:
        """Reset every insurer, then give each named one its faults (sandbox control API)."""
        httpx.delete(f"{self.sandbox_url}/_control", timeout=10).raise_for_status()
        for insurer, fault in faults.items():
            httpx.put(
                f"{self.sandbox_url}/_control/{insurer}/faults", json=dict(fault), timeout=10
            ).raise_for_status()


def wait_for(predicate: Any, timeout: float, interval: float = 0.25) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
