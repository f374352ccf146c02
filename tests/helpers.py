"""Test helpers that assert: the status, the media type and the contract of the body."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from aiohttp import web
from aiohttp.test_utils import TestClient
from marshmallow import Schema, fields
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

AppClient = TestClient[web.Request, web.Application]  # a client of an app on 127.0.0.1


class MakeClient(Protocol):
    """The `make_client` fixture: a client of an app whose settings differ by `changes`."""

    async def __call__(self, **changes: Any) -> AppClient: ...


async def request_json(
    client: AppClient,
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
        assert isinstance(data, dict), data
        assert_problem(data, expected_status)
    return data


def link_url(links: Mapping[str, Mapping[str, str | URL]], rel: str) -> URL | None:
    """The target of a response's Link header with `rel` (aiohttp's `response.links`)."""
    link = links.get(rel)
    if link is None:
        return None
    url = link["url"]
    assert isinstance(url, URL), url
    return url


def relative_link(links: Mapping[str, Mapping[str, str | URL]], rel: str) -> str | None:
    """The Link target with `rel` as a path and query, to request with the same client."""
    url = link_url(links, rel)
    return None if url is None else str(url.relative())


async def get_json(client: AppClient, path: str, **kwargs: Any) -> Any:
    return await request_json(client, "GET", path, **kwargs)


def assert_contract(schema: Schema, data: Any) -> None:
    """The body is exactly what the *Out schema would produce: same keys, same types.

    A dump skips keys that are absent, so the key sets are compared as well, at every level of
    nesting: every declared field is there unless it is marked `metadata={"optional": True}`,
    and nothing undeclared is."""
    assert schema.dump(data) == data
    for item in data if schema.many else [data]:
        assert_keys(schema, item, "$")


def assert_keys(schema: Schema, item: Any, where: str) -> None:
    assert isinstance(item, dict), f"{where}: {item!r} is not an object"
    declared = {f.data_key or name: f for name, f in schema.dump_fields.items()}
    required = {key for key, f in declared.items() if not f.metadata.get("optional")}
    missing, undeclared = sorted(required - set(item)), sorted(set(item) - set(declared))
    assert not missing and not undeclared, f"{where}: missing {missing}, undeclared {undeclared}"
    for key, field in declared.items():
        value = item.get(key)
        inner, many = field, False
        if isinstance(field, fields.List):
            inner, many = field.inner, True
        if isinstance(inner, fields.Nested) and value is not None:
            nested = inner.schema
            for index, child in enumerate(value if many or nested.many else [value]):
                assert_keys(nested, child, f"{where}.{key}[{index}]" if many else f"{where}.{key}")


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
