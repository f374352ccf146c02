from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from tests.helpers import AppClient, get_json, request_json
from userdir.app import create_app
from userdir.config import Settings
from userdir.errors import REQUEST_ID_HEADER, start_stream


async def test_unknown_path_is_problem_json(client: AppClient) -> None:
    problem = await get_json(client, "/no/such/thing", expected_status=404)
    assert problem["title"] == "Not Found"
    assert problem["instance"] == "/no/such/thing"
    assert problem["type"] == "about:blank"


async def test_wrong_method_is_405_with_allow(client: AppClient) -> None:
    async with client.delete("/users") as response:
        assert response.status == 405
        assert "GET" in response.headers["Allow"]
        assert response.content_type == "application/problem+json"
    await request_json(client, "DELETE", "/users", expected_status=405)


async def test_request_id_is_echoed_when_sane(client: AppClient) -> None:
    async with client.get("/restaurant/", headers={"X-Request-ID": "abc-123"}) as response:
        assert response.headers["X-Request-ID"] == "abc-123"
    async with client.get("/restaurant/", headers={"X-Request-ID": "bad id <script>"}) as response:
        assert len(response.headers["X-Request-ID"]) == 32


@pytest.fixture
async def failing_client(aiohttp_client: AiohttpClient, settings: Settings) -> AppClient:
    app = create_app(settings)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals: password=hunter2")

    app.router.add_get("/boom", boom)
    client: AppClient = await aiohttp_client(app)
    return client


async def test_500_hides_internals_and_logs_the_request_id(
    failing_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="userdir.errors"):
        problem = await get_json(failing_client, "/boom", expected_status=500)
    assert "hunter2" not in str(problem) and "RuntimeError" not in str(problem)
    assert problem["detail"] == "The server could not complete the request."
    record = next(r for r in caplog.records if r.name == "userdir.errors")
    assert problem["request_id"] in record.getMessage()
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


@pytest.fixture
async def slow_client(aiohttp_client: AiohttpClient, settings: Settings) -> AppClient:
    app = create_app(replace(settings, request_timeout=0.3))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="too late")

    async def long_download(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await start_stream(request, response)
        for _ in range(6):  # 0.6 s in all: past the timeout, but the response has started
            await response.write(b"chunk\n")
            await asyncio.sleep(0.1)
        await response.write_eof()
        return response

    app.router.add_get("/slow", slow)
    app.router.add_get("/download", long_download)
    client: AppClient = await aiohttp_client(app)
    return client


async def test_a_handler_past_request_timeout_answers_503(
    slow_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="userdir.errors"):
        problem = await get_json(slow_client, "/slow", expected_status=503)
    # The sweep runs every tenth of the timeout: the answer comes within about 0.33 s.
    assert 0.29 < time.monotonic() - started < 1.5
    assert problem["detail"] == "The request took longer than 0.3 s."
    record = next(r for r in caplog.records if "REQUEST_TIMEOUT" in r.getMessage())
    assert problem["request_id"] in record.getMessage()
    # A response that has started streaming is not a slow handler: it is not cut.
    async with slow_client.get("/download") as response:
        assert response.status == 200
        assert response.headers[REQUEST_ID_HEADER]  # named before its head went out
        assert await response.read() == b"chunk\n" * 6
