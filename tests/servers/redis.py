"""A private redis-server: kill it, freeze it, fill it, without touching the shared one."""

from __future__ import annotations

import signal
import subprocess

from tests.servers import binaries
from tests.servers.ports import free_port
from tests.servers.process import (
    Closing,
    ServerError,
    private_dir,
    remove_dir,
    stop_process,
    wait_for_port,
)


class RedisServer(Closing):
    """redis-server on 127.0.0.1:port with no persistence: a restart starts empty.

    maxmemory (e.g. "1mb") with maxmemory_policy "noeviction" makes writes fail with OOM once
    it is full; pause() (SIGSTOP) leaves connections open but unanswered, as a hung server does.
    """

    def __init__(
        self, *, maxmemory: str | None = None, maxmemory_policy: str | None = None
    ) -> None:
        self.executable = binaries.find("redis-server", "redis-server")
        self.port = free_port()
        self.base = private_dir("redis")
        self.log = self.base / "redis.log"
        self.options = ["--maxmemory", maxmemory] if maxmemory else []
        self.options += ["--maxmemory-policy", maxmemory_policy] if maxmemory_policy else []
        self._process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @classmethod
    def create(cls, **options: str | None) -> RedisServer:
        server = cls(**options)
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        return server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServerError("redis-server is not running")
        return self._process.pid

    def start(self, timeout: float = 10) -> None:
        if self.is_running():
            return
        args = [self.executable, "--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.base)]
        args += ["--logfile", str(self.log), *self.options]
        self._process = subprocess.Popen(
            args, cwd=self.base, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.paused = False
        wait_for_port(self._process, self.port, what="redis-server", log=self.log, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (nothing is saved)."""
        if self._process is not None:
            stop_process(self._process, signal.SIGTERM)
            self._process = None
        self.paused = False

    def kill(self) -> None:
        """SIGKILL, as in a crash or an OOM kill; connections are reset."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL)
            self._process = None
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel does), nothing answers."""
        self._process_or_fail().send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._process_or_fail().send_signal(signal.SIGCONT)
        self.paused = False

    def restart(self) -> None:
        """Kill and start again on the same port, empty."""
        self.kill()
        self.start()

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        try:
            self.kill()
        finally:
            remove_dir(self.base)

    def _process_or_fail(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            raise ServerError("redis-server is not running")
        return self._process
