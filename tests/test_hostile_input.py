"""Requests built to hurt: ids past int()'s digit limit, header bytes that are not UTF-8, a
response of 20 MB. Each gets a deliberate answer, never a 500, and nothing grows past its bound.
Run with -s to see the measured figures (FIGURES lines)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from tests.fault_app import API_TOKEN, HEADERS, PROBLEM_JSON, ServeApp, Served, figures
from tests.servers.load import run_load
from tests.servers.redis import RedisServer
from userdir.cache import MemoryCache
from userdir.keys import CACHE

pytestmark = pytest.mark.slow

DIGITS = "9" * 4301  # one past int()'s default limit of 4300 digits
MIB = 1024 * 1024


@pytest.fixture
async def served(fault_database: str, private_redis: RedisServer, serve_app: ServeApp) -> Served:
    return await serve_app({"DATABASE_URL": fault_database, "CACHE_URL": private_redis.url})


async def raw_request(
    served: Served, method: str, path: str, headers: dict[str, bytes], body: bytes = b""
) -> tuple[int, dict[str, str], Any]:
    """One HTTP/1.1 request written byte for byte (a client library would refuse to send
    bytes that are not text); the status, headers and decoded JSON body of the answer."""
    port = urlsplit(served.base).port
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}".encode())
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            answer = await reader.read()  # until the server closes: Connection: close
        finally:
            writer.close()
            await writer.wait_closed()
    head, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answered = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), answered, orjson.loads(content) if content else None


# One app serves all the cases of a test: a case that broke it would show in the next.
HUGE_NUMBERS = {
    f"/restaurant/{DIGITS}/item": 404,
    f"/restaurant/{DIGITS}": 404,
    f"/restaurant/1/item/{DIGITS}": 404,
    f"/restaurant/1/item?depth={DIGITS}": 400,
    f"/users?id={DIGITS}": 400,
    f"/users?page_number={DIGITS}": 400,
}
WRITES = [
    ("POST", "/restaurant", b'{"name": "x"}'),
    ("PATCH", "/restaurant/1", b'{"name": "x"}'),
    ("DELETE", "/restaurant/1/item/1", b""),
    ("PUT", "/restaurant/1/menu", b'{"items": []}'),
]


async def test_numbers_past_the_digit_limit_are_client_errors(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        for path, status in HUGE_NUMBERS.items():
            async with session.get(served.url(path)) as response:
                problem = await response.json(content_type=None)
                assert response.status == status, (path[:50], problem)
                assert response.content_type == PROBLEM_JSON, path[:50]
            assert problem["status"] == status
            assert DIGITS not in problem["detail"]  # the echo is cut short


async def test_a_bearer_token_that_is_not_utf8_is_401(served: Served) -> None:
    headers = {"Authorization": b"Bearer \xe9", "Content-Type": b"application/json"}
    for method, path, body in WRITES:
        status, answered, problem = await raw_request(served, method, path, headers, body)
        assert status == 401, (method, path, problem)
        assert answered["Content-Type"].startswith(PROBLEM_JSON)
        assert answered["WWW-Authenticate"] == 'Bearer realm="userdir"'
        assert problem["detail"] == "The bearer token is not UTF-8 text."
    # The data is untouched: no write ran.
    async with aiohttp.ClientSession() as session:
        async with session.get(served.url("/restaurant/1/item")) as response:
            assert response.status == 200
            assert [item["name"] for item in await response.json()][0] == "burger"


async def test_header_bytes_that_are_not_utf8_do_not_fail_a_read(served: Served) -> None:
    for header in ("If-None-Match", "Accept", "Accept-Encoding", "X-Request-ID"):
        status, answered, users = await raw_request(
            served, "GET", "/users?type=Organization", {header: b'"\xe9"'}
        )
        assert status == 200, (header, users)
        assert answered["Content-Type"].startswith("application/json"), header
        assert len(users) == 16, header


def _layered_menu(layers: int, width: int, description: str) -> dict[str, Any]:
    """Every item of a layer has every item of the next layer as a modifier: a nested rendering
    repeats each shared modifier under every parent, width ** depth times at depth."""
    keys = [[f"item-{layer}-{n}" for n in range(width)] for layer in range(layers)]
    items = [
        {"key": key, "name": key, "description": description, "price_cents": 100}
        for layer in keys
        for key in layer
    ]
    links = [
        {"item": parent, "modifier": child}
        for upper, lower in zip(keys, keys[1:], strict=False)
        for parent in upper
        for child in lower
    ]
    return {"items": items, "links": links}


async def test_a_20_mb_response_is_served_but_never_cached(
    fault_database: str, serve_app: ServeApp
) -> None:
    max_bytes, max_entry_bytes = 6 * MIB, 8 * MIB
    served = await serve_app(
        {
            "DATABASE_URL": fault_database,
            "CACHE_URL": "memory://",
            "CACHE_MAX_BYTES": str(max_bytes),
            "CACHE_MAX_ENTRY_BYTES": str(max_entry_bytes),
            "MAX_NESTED_NODES": "1000000",  # the default refuses renderings past 100,000
            "REQUEST_TIMEOUT": "120",  # rendering 20 MB takes seconds on a busy machine
        }
    )
    cache = served.app[CACHE]
    assert isinstance(cache, MemoryCache)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    # 40 items in 5 layers of 8: 42,792 nodes nested at depth >= 4, ~490 bytes each.
    menu = _layered_menu(layers=5, width=8, description="a long description. " * 15)
    async with aiohttp.ClientSession(headers=auth) as session:
        async with session.post(served.url("/restaurant"), json={"name": "Layers"}) as created:
            assert created.status == 201, await created.text()
            restaurant = (await created.json())["id"]
        async with session.put(served.url(f"/restaurant/{restaurant}/menu"), json=menu) as put:
            assert put.status == 200, await put.text()
        base = served.url(f"/restaurant/{restaurant}/item")
        async with session.get(f"{base}?depth=8") as response:
            body = await response.read()
            assert response.status == 200, body[:500]
            first_state = response.headers["X-Cache"]
    held_after_first = cache.held_bytes
    # Under load: the 20 MB rendering again, among smaller ones that fit (one of ~5 MB).
    result = await run_load(
        [f"{base}?depth=8", f"{base}?depth=3", f"{base}?depth=2", f"{base}?depth=1"],
        clients=2,
        requests=8,
        duration=60,
        timeout=60,
        record_headers=HEADERS,
    )
    states = {
        url.rsplit("=", 1)[1]: [s.headers.get("X-Cache") for s in result.samples if s.url == url]
        for url in {s.url for s in result.samples}
    }
    shown = figures(
        "20 MB response",
        body_mib=len(body) / MIB,
        nodes=body.count(b'"modifiers"'),
        x_cache_first=first_state,
        held_bytes_after_it=held_after_first,
        outcomes=dict(result.by_outcome()),
        x_cache_by_depth=states,
        held_mib=cache.held_bytes / MIB,
        cache_max_mib=max_bytes / MIB,
        max_latency_s=result.max_latency(),
    )
    assert 18 * MIB < len(body) < 24 * MIB, shown
    assert first_state == "MISS" and held_after_first == 0, shown
    assert result.by_outcome() == {200: 8}, shown
    assert "HIT" not in states["8"], shown  # over CACHE_MAX_ENTRY_BYTES: never stored
    assert "HIT" in states["1"] + states["2"] + states["3"], shown
    assert 0 < cache.held_bytes <= max_bytes, shown
