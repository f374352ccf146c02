"""pytest fixtures for the private servers; tests/conftest.py registers this plugin.

A missing program skips the test that needs it, naming the Debian package (with CI=true the
test fails instead). Whatever a fixture started is stopped and its directory removed when the
test (or, for the cluster, the session) ends, also when it failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TypeVar

import pytest

from tests.servers.binaries import MissingBinary
from tests.servers.nginx import NginxServer
from tests.servers.pgbouncer import PgBouncer, PoolMode
from tests.servers.postgres import PostgresCluster
from tests.servers.redis import RedisServer
from tests.servers.standby import PostgresStandby
from tests.services import unavailable

T = TypeVar("T")


def start(what: str, create: Callable[[], T]) -> T:
    """create(), or skip (fail with CI=true) when a program it needs is not installed."""
    try:
        return create()
    except MissingBinary as exc:
        unavailable(what, exc)
        raise  # unreachable: unavailable() skips or fails


@pytest.fixture(scope="session")
def private_pg_cluster() -> Iterator[PostgresCluster]:
    """The session's own PostgreSQL cluster, initdb'd on first use. Tests that may stop it
    take private_pg instead, which starts it again."""
    cluster = start("a private PostgreSQL cluster", PostgresCluster.create)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def private_pg(private_pg_cluster: PostgresCluster) -> Iterator[PostgresCluster]:
    """The private cluster, running when the test starts and again after it, whatever the test
    did to it (stop, kill, immediate shutdown)."""
    private_pg_cluster.ensure_running()
    yield private_pg_cluster
    private_pg_cluster.ensure_running()


@pytest.fixture
def private_pg_database(private_pg: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database in the private cluster for this test; yields its name."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    private_pg.create_database(name)
    try:
        yield name
    finally:
        private_pg.ensure_running()
        private_pg.drop_database(name)


@pytest.fixture
def private_pg_standby(private_pg: PostgresCluster) -> Iterator[PostgresStandby]:
    """A streaming hot standby of the private cluster, made for this test."""
    standby = start("a PostgreSQL standby", private_pg.standby)
    try:
        yield standby
    finally:
        standby.close()


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., RedisServer]]:
    """make(maxmemory="1mb", maxmemory_policy="noeviction") -> a started private Redis."""
    stack = ExitStack()

    def make(*, maxmemory: str | None = None, maxmemory_policy: str | None = None) -> RedisServer:
        server = start(
            "a private redis-server",
            lambda: RedisServer.create(maxmemory=maxmemory, maxmemory_policy=maxmemory_policy),
        )
        stack.callback(server.close)
        return server

    with stack:  # closes every one, even when closing another failed
        yield make


@pytest.fixture
def private_redis(redis_factory: Callable[..., RedisServer]) -> RedisServer:
    return redis_factory()


@pytest.fixture
def pgbouncer_factory(private_pg: PostgresCluster) -> Iterator[Callable[..., PgBouncer]]:
    """make(pool_mode="transaction", pool_size=2) -> a started PgBouncer before private_pg."""
    stack = ExitStack()

    def make(*, pool_mode: PoolMode = "transaction", pool_size: int = 2) -> PgBouncer:
        bouncer = start(
            "a private PgBouncer",
            lambda: PgBouncer.create(private_pg, pool_mode=pool_mode, pool_size=pool_size),
        )
        stack.callback(bouncer.close)
        return bouncer

    with stack:  # closes every one, even when closing another failed
        yield make


@pytest.fixture
def private_pgbouncer(pgbouncer_factory: Callable[..., PgBouncer]) -> PgBouncer:
    """PgBouncer in transaction mode, two server connections, before the private cluster."""
    return pgbouncer_factory()


@pytest.fixture
def nginx_factory() -> Iterator[Callable[..., NginxServer]]:
    """make(http_config, port=None) -> a started nginx; "{port}" in the text is its port."""
    stack = ExitStack()

    def make(http_config: str, port: int | None = None) -> NginxServer:
        server = start("nginx", lambda: NginxServer.create(http_config, port))
        stack.callback(server.close)
        return server

    with stack:  # closes every one, even when closing another failed
        yield make
