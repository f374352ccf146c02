"""Test helpers that assert: the status, the media type and the contract of the body."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp.test_utils import TestClient
from marshmallow import Schema
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


async def request_json(
    client: TestClient,
    method: str,
    path: str,
    *,
    expected_status: int = 200,
    schema: Schema | None = None,
    **kwargs: Any,
) -> Any:
    async with client.request(method, path, **kwargs) as response:
        text = await response.text()
        assert response.status == expected_status, f"{response.status}: {text}"
        if response.status >= 400:
            assert response.content_type == "application/problem+json", response.content_type
        elif response.status != 204:
            assert response.content_type == "application/json", response.content_type
        data = await response.json(content_type=None) if text else None
    if schema is not None:
        assert_contract(schema, data)
    if response.status >= 400:
        assert_problem(data, expected_status)
    return data


async def get_json(client: TestClient, path: str, **kwargs: Any) -> Any:
    return await request_json(client, "GET", path, **kwargs)


def assert_contract(schema: Schema, data: Any) -> None:
    """The body is exactly what the *Out schema would produce: same keys, same types."""
    assert schema.dump(data) == data


def assert_problem(data: dict[str, Any], status: int) -> None:
    assert set(data) == {"type", "title", "status", "detail", "instance", "request_id", "errors"}
    assert data["status"] == status
    assert isinstance(data["errors"], list)


def error_parameters(problem: dict[str, Any]) -> set[str]:
    return {e["parameter"] for e in problem["errors"]}


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine sends while the block runs."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
