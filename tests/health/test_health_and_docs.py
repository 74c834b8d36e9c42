from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.infra import migrations
from accelerator.server import create_app
from accelerator.settings import Settings

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]


async def test_liveness_needs_no_key(client: Client) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_reports_the_migration_at_head(client: Client) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["migration"] == migrations.head_revision()


async def test_readiness_is_503_with_a_reason_before_migrations(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert "accelerator migrate" in response.json()["reason"]


async def test_readiness_is_503_when_the_database_is_unreachable() -> None:
    settings = Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_openapi_document_names_every_operation_and_its_tags(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    operations = [
        op
        for path in response.json()["paths"].values()
        for op in path.values()
        if "responses" in op
    ]
    assert operations
    for operation in operations:
        assert operation.get("operationId"), operation
        assert operation.get("tags"), operation


async def test_unknown_route_is_a_404_problem_document(
    client: Client, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/nothing-here", headers=admin_headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"


def test_models_and_migrations_agree(database_url: str) -> None:
    migrations.check(database_url)
