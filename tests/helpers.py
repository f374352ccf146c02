"""Test helpers that assert: the status, the media type and the contract of the body."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
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


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 2.0) -> float:
    """Await `check()` until it is true; returns how long that took, fails after `within` s.

    For what another process (or host) changes: this one learns of it within a bound, not at
    once (see userdir.invalidation)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        if loop.time() - start > within:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(0.005)
    return loop.time() - start
