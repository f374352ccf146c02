"""The app on the private servers, for the fault tests: a database copied per test, the app
served on 127.0.0.1, its log lines, and the figures each fault test prints.

    async def test_x(fault_database: str, private_redis: RedisServer, serve_app) -> None:
        served = await serve_app({"DATABASE_URL": fault_database, "CACHE_URL": private_redis.url})
        result = await run_load(served.url("/users"), clients=10, duration=2.0)

Every database is a copy (CREATE DATABASE ... TEMPLATE) of one migrated and sample-loaded
once per session, so a test that breaks its copy leaves nothing behind for the next one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from tests.servers.load import RECORDED_HEADERS, LoadResult
from tests.servers.ports import free_port
from tests.servers.postgres import IDENTIFIER, PostgresCluster
from tests.services import run_async
from userdir import migrations
from userdir.app import create_app
from userdir.config import load_settings
from userdir.db import create_engine, create_sessionmaker
from userdir.sample import load_sample_data

API_TOKEN = "fault-token-0123456789"
# What the fault tests read off every response.
HEADERS = (*RECORDED_HEADERS, "Content-Type")
PROBLEM_JSON = "application/problem+json"


async def _prepare(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrations.upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            await load_sample_data(session)
    finally:
        await engine.dispose()


def _copy_database(cluster: PostgresCluster, template: str, name: str) -> None:
    for identifier in (template, name):
        if not IDENTIFIER.fullmatch(identifier):
            raise ValueError(f"not a plain identifier: {identifier!r}")
    cluster.query(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # checked above


@pytest.fixture(scope="session")
def fault_template(private_pg_cluster: PostgresCluster) -> str:
    """A database of the private cluster, migrated and holding the sample data; never
    connected to after this, so it can be copied (the cluster goes with the session)."""
    name = f"faults_template_{uuid.uuid4().hex[:8]}"
    private_pg_cluster.ensure_running()
    url = private_pg_cluster.create_database(name)
    run_async(lambda: _prepare(url))
    return name


@pytest.fixture
def fault_database(private_pg: PostgresCluster, fault_template: str) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh copy of the template, dropped after the test (with the
    cluster started again first, whatever the test did to it)."""
    name = f"faults_{uuid.uuid4().hex[:12]}"
    _copy_database(private_pg, fault_template, name)
    try:
        yield private_pg.url(name)
    finally:
        private_pg.ensure_running()
        private_pg.drop_database(name)


@dataclass(frozen=True, slots=True)
class Served:
    app: web.Application
    base: str

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


ServeApp = Callable[[Mapping[str, str]], Awaitable[Served]]


@pytest.fixture
def serve_app(aiohttp_server: AiohttpServer) -> ServeApp:
    """serve(environ) -> the app built from those settings (as the environment would give
    them), started and serving real HTTP on 127.0.0.1; stopped after the test."""

    async def serve(environ: Mapping[str, str]) -> Served:
        app = create_app(load_settings({"USERDIR_API_TOKENS": API_TOKEN, **environ}))
        server = await aiohttp_server(app, host="127.0.0.1", port=free_port())
        return Served(app, f"http://127.0.0.1:{server.port}")

    return serve


def warnings_of(caplog: pytest.LogCaptureFixture, prefix: str = "userdir") -> list[str]:
    """The service's log lines at WARNING and above, as they would be printed."""
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name.startswith(prefix)
    ]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records of any logger that carry a traceback, or are errors."""
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.exc_info is not None or record.levelno >= logging.ERROR
    ]


def figures(row: str, **values: object) -> str:
    """One line of measured figures, printed (pytest -s shows it) and returned for messages."""
    shown = ", ".join(
        f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}"
        for name, value in values.items()
    )
    line = f"FIGURES {row}: {shown}"
    print(line)
    return line


def problems_without_retry_after(result: LoadResult) -> int:
    """503 answers that are not problem+json with Retry-After."""
    return sum(
        1
        for s in result.samples
        if s.status == 503
        and (
            "Retry-After" not in s.headers
            or not s.headers.get("Content-Type", "").startswith(PROBLEM_JSON)
        )
    )


def other_server_errors(result: LoadResult) -> int:
    """Responses of 500 or more other than 503."""
    return sum(1 for s in result.samples if s.status is not None and s.status >= 500) - (
        result.count_status(503)
    )
