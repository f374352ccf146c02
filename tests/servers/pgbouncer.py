"""A private PgBouncer in front of a private PostgreSQL cluster."""

from __future__ import annotations

import signal
import subprocess
import uuid
from typing import Literal, TypedDict, Unpack

from tests.servers import binaries
from tests.servers.ports import free_port
from tests.servers.postgres import USER, PostgresCluster
from tests.servers.process import (
    Closing,
    ServerError,
    private_dir,
    remove_dir,
    run_as,
    service_env,
    stop_process,
    wait_for_port,
)

PoolMode = Literal["session", "transaction", "statement"]


class BouncerOptions(TypedDict, total=False):
    """PgBouncer's keyword arguments."""

    pool_mode: PoolMode
    pool_size: int
    max_client_conn: int


CONFIG = """\
[databases]
* = host=127.0.0.1 port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {base}/userlist.txt
admin_users = {user}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {max_client_conn}
server_login_retry = 1
logfile = {base}/pgbouncer.log
"""


class PgBouncer(Closing):
    """pgbouncer on 127.0.0.1:port, every database of the cluster behind it, at most
    pool_size server connections per database and user.

    In transaction mode PgBouncer 1.18 (Debian 12) cannot carry prepared statements across
    transactions; asyncpg clients need statement_cache_size=0 and, through SQLAlchemy,
    prepared_statement_cache_size=0 and a unique prepared_statement_name_func as well
    (connect_args() below).
    """

    def __init__(
        self,
        cluster: PostgresCluster,
        *,
        pool_mode: PoolMode = "transaction",
        pool_size: int = 2,
        max_client_conn: int = 100,
    ) -> None:
        self.executable = binaries.find("pgbouncer", "pgbouncer")
        self.cluster = cluster
        self.port = free_port()
        self.base = private_dir("pgbouncer")
        self.log = self.base / "pgbouncer.log"
        self.config = self.base / "pgbouncer.ini"
        self.config.write_text(
            CONFIG.format(
                pg_port=cluster.port,
                port=self.port,
                base=self.base,
                user=USER,
                pool_mode=pool_mode,
                pool_size=pool_size,
                max_client_conn=max_client_conn,
            )
        )
        # auth_type = trust still only admits users listed in the auth file.
        (self.base / "userlist.txt").write_text(f'"{USER}" ""\n')
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, cluster: PostgresCluster, **options: Unpack[BouncerOptions]) -> PgBouncer:
        bouncer = cls(cluster, **options)
        try:
            bouncer.start()
        except BaseException:
            bouncer.close()
            raise
        return bouncer

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database behind the bouncer (see connect_args())."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 10) -> None:
        if self.is_running():
            return
        # It refuses to run as root; the files above are readable by the service user.
        self._process = subprocess.Popen(
            [self.executable, str(self.config)],
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=service_env(),
            start_new_session=True,
            **run_as(),
        )
        wait_for_port(self._process, self.port, what="pgbouncer", log=self.log, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM: PgBouncer 1.18 shuts down at once, dropping its clients."""
        if self._process is not None:
            stop_process(self._process, signal.SIGTERM)
            self._process = None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServerError("pgbouncer is not running")
        return self._process.pid

    def close(self) -> None:
        try:
            self.stop()
        finally:
            remove_dir(self.base)


def connect_args() -> dict[str, object]:
    """create_async_engine(..., connect_args=connect_args()) for a transaction-mode bouncer:
    no statement cache, and statement names that cannot collide on a shared server connection."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4().hex}__",
    }
