"""A streaming hot standby of a private cluster, with its WAL replay held back on demand."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.servers import binaries
from tests.servers.ports import free_port
from tests.servers.postgres import USER, PostgresCluster
from tests.servers.process import ServerError, private_dir, run, wait_until
from tests.services import run_async


class PostgresStandby(PostgresCluster):
    """A PostgresCluster made by pg_basebackup -R from a primary: read-only, following it."""

    def __init__(self, primary: PostgresCluster, base: Path, port: int) -> None:
        super().__init__(base, port)
        self.primary = primary

    @classmethod
    def of(cls, primary: PostgresCluster) -> PostgresStandby:
        standby = cls(primary, private_dir("pg-standby"), free_port())
        try:
            standby.clone()
            standby.start()
        except BaseException:
            standby.close()
            raise
        return standby

    def clone(self) -> None:
        """Copy the primary with pg_basebackup; -R writes standby.signal and primary_conninfo."""
        basebackup = binaries.postgres_tool("pg_basebackup")
        run(
            [basebackup, "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", USER]
            + ["-D", str(self.data), "-R", "-X", "stream", "--no-sync"]
            # A fast checkpoint: the default spreads it over checkpoint_timeout's half.
            + ["--checkpoint=fast"],
            cwd=self.base,
        )

    def pause_replay(self, timeout: float = 10) -> None:
        """Stop applying WAL (it is still received); returns once replay has really paused, so
        that whatever the primary commits afterwards stays invisible here."""
        self.query("SELECT pg_wal_replay_pause()")
        wait_until(
            lambda: self.query("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
            timeout=timeout,
            what="WAL replay to pause",
            log=self.log,
        )

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def wait_replayed(self, timeout: float = 10) -> str:
        """Wait until this standby has replayed everything the primary committed so far;
        returns that LSN. Fails while replay is paused."""
        target = self.primary_lsn()
        try:
            wait_until(
                lambda: self.query("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target)[
                    0
                ][0],
                timeout=timeout,
                what=f"standby replay up to {target}",
                log=self.log,
            )
        except ServerError as exc:
            raise ServerError(f"{exc}; replayed {self.replay_lsn()}") from None
        return target

    def primary_lsn(self) -> str:
        """The primary's flushed WAL position, after everything committed so far.

        With synchronous_commit = off a commit record may sit unflushed, and so unsent, for up
        to wal_writer_delay; one synchronous commit that wrote WAL (a transactional logical
        message: no table needed) flushes every record before it."""

        async def flush() -> str:
            conn = await asyncpg.connect(self.primary.dsn(), timeout=5)
            try:
                await conn.execute("SET synchronous_commit = on")
                await conn.execute("SELECT pg_logical_emit_message(true, 'userdir-tests', '')")
                return str(await conn.fetchval("SELECT pg_current_wal_flush_lsn()::text"))
            finally:
                await conn.close()

        return run_async(flush)

    def replay_lsn(self) -> str:
        return str(self.query("SELECT pg_last_wal_replay_lsn()::text")[0][0])
