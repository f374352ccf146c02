"""A private PostgreSQL cluster: its own data directory, port and postmaster, to stop, crash
and restart at will without touching the shared server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import asyncpg

from tests.servers import binaries
from tests.servers.ports import free_port
from tests.servers.process import (
    Closing,
    ServerError,
    alive,
    children,
    log_tail,
    private_dir,
    remove_dir,
    run,
    run_as,
    service_env,
    service_ids,
    stop_process,
    wait_until,
)
from tests.services import run_async

if TYPE_CHECKING:
    from tests.servers.standby import PostgresStandby

USER = "postgres"
StopMode = Literal["smart", "fast", "immediate"]
# The postmaster's shutdown signals (see "Shutting Down the Server" in PostgreSQL's docs).
STOP_SIGNALS: dict[str, int] = {
    "smart": signal.SIGTERM,
    "fast": signal.SIGINT,
    "immediate": signal.SIGQUIT,
}
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Durability is worthless in a throwaway cluster; speed and a small footprint are not.
SETTINGS = """
listen_addresses = '127.0.0.1'
max_connections = 100
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 128MB
hot_standby = on
"""
HBA = """
local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


class PostgresCluster(Closing):
    """One data directory and, while running, its postmaster on 127.0.0.1:port.

    The postmaster is a child of this process rather than daemonized by pg_ctl, so a SIGKILLed
    postmaster is reaped at once: a lingering zombie would make the next start refuse
    ("lock file postmaster.pid already exists") until PID 1 got round to reaping it.
    """

    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.port = port
        self.data = base / "data"
        self.sockets = base / "sockets"
        self.log = base / "postgresql.log"
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls) -> PostgresCluster:
        """initdb into a fresh directory, then start; everything removed again on failure."""
        cluster = cls(private_dir("pg"), free_port())
        try:
            cluster.initdb()
            cluster.start()
        except BaseException:
            cluster.close()
            raise
        return cluster

    def initdb(self) -> None:
        initdb = binaries.postgres_tool("initdb")
        run(
            [initdb, "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8"]
            + ["--locale=C", "--no-sync", "--no-instructions"],
            cwd=self.base,
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS)
        (self.data / "pg_hba.conf").write_text(HBA)

    # -- process control ----------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Start the postmaster on this cluster's port; return once it accepts connections."""
        if self.is_running():
            return
        self.sockets.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.sockets, *service_ids())
        postgres = binaries.postgres_tool("postgres")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [postgres, "-D", str(self.data), "-p", str(self.port), "-k", str(self.sockets)],
                cwd=self.base,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=service_env(),
                start_new_session=True,  # a Ctrl-C meant for pytest must not reach it
                **run_as(),
            )
        process = self._process

        def ready() -> bool:
            if process.poll() is not None:
                raise ServerError(f"postgres exited with {process.returncode}{log_tail(self.log)}")
            return self._status(process.pid) in ("ready", "standby")

        wait_until(ready, timeout=timeout, what=f"PostgreSQL on port {self.port}", log=self.log)

    def stop(self, mode: StopMode = "fast", timeout: float = 30) -> None:
        """Shut down: fast (roll back and disconnect) or immediate (no checkpoint: recovery on
        the next start). A no-op when it is not running."""
        if self._process is not None:
            stop_process(self._process, STOP_SIGNALS[mode], timeout=timeout)
            self._process = None

    def kill(self, timeout: float = 10) -> None:
        """SIGKILL the postmaster, as in a crash; return once its backends are gone too, so
        that a start right after finds no process still attached to the old shared memory."""
        if self._process is None:
            return
        backends = children(self._process.pid)
        stop_process(self._process, signal.SIGKILL)
        self._process = None
        # Orphaned backends notice the postmaster's death and exit on their own.
        deadline = time.monotonic() + timeout / 2
        while (left := [pid for pid in backends if alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.01)
        for pid in left:
            _signal(pid, signal.SIGKILL)
        wait_until(
            lambda: not any(alive(pid) for pid in backends),
            timeout=timeout / 2,
            what="the backends of the killed postmaster to exit",
        )

    def restart(self, mode: StopMode = "fast") -> None:
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ensure_running(self) -> None:
        """Start it again if a test stopped or killed it."""
        if not self.is_running():
            self._process = None
            self.start()

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServerError("PostgreSQL is not running")
        return self._process.pid

    def close(self) -> None:
        """Stop at once and remove the directory; safe to call more than once."""
        try:
            self.stop("immediate")
        finally:
            remove_dir(self.base)

    # -- connecting -----------------------------------------------------------------------------

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database in this cluster."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def query(self, sql: str, *args: object, database: str = "postgres") -> list[Any]:
        """Run one statement on a fresh connection (from sync or async code) and return its
        rows; args are bound as $1, $2, ..."""

        async def fetch() -> list[Any]:
            conn = await asyncpg.connect(self.dsn(database), timeout=5)
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return run_async(fetch)

    def create_database(self, name: str) -> str:
        """Create a database (a plain lower-case identifier) and return its SQLAlchemy URL."""
        if not IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a plain identifier: {name!r}")
        self.query(f'CREATE DATABASE "{name}"')  # checked above; identifiers cannot be bound
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database even while sessions are connected to it; no error when absent."""
        if not IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a plain identifier: {name!r}")
        self.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # checked above

    def terminate_backends(self, database: str, application_name: str | None = None) -> int:
        """pg_terminate_backend every other session on a database (only those whose
        application_name matches, when given); returns how many, once they have exited."""
        rows = self.query(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()"
            " AND ($2::text IS NULL OR application_name = $2)",
            database,
            application_name,
        )
        return int(rows[0][0])

    def standby(self) -> PostgresStandby:
        """A streaming hot standby of this cluster, started on a port of its own."""
        from tests.servers.standby import PostgresStandby

        return PostgresStandby.of(self)

    def _status(self, pid: int) -> str:
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return ""
        # Line 1 is the postmaster's pid (a stale file survives a crash), line 8 its status.
        if len(lines) < 8 or lines[0].strip() != str(pid):
            return ""
        return lines[7].strip()


async def fetchval(dsn: str, sql: str, *args: object) -> Any:
    """One statement's first value, on a connection of its own (from async code)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
