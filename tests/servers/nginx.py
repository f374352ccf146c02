"""A private nginx in the foreground: its own prefix, config, pid, logs and temp paths."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.servers import binaries
from tests.servers.ports import free_port
from tests.servers.process import (
    Closing,
    ServerError,
    alive,
    children,
    private_dir,
    remove_dir,
    run,
    stop_process,
    wait_for_port,
    wait_until,
)

# Everything nginx would otherwise write under /var/lib/nginx or /var/log/nginx lives in the
# prefix; "daemon off" comes from the command line so the master stays our child.
MAIN = """\
{user}worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log notice;
events {{ worker_connections 512; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/client_body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
{http}
}}
"""
WORKERS_STARTED = "start worker process"


class NginxServer(Closing):
    """nginx with the given text inside its http {} block; "{port}" in that text stands for
    the server's own port, e.g. "server { listen 127.0.0.1:{port}; location / { ... } }"."""

    def __init__(self, http_config: str, port: int | None = None) -> None:
        self.executable = binaries.find("nginx", "nginx")
        self.port = port or free_port()
        self.base = private_dir("nginx")
        self.config = self.base / "nginx.conf"
        self.error_log_path = self.base / "error.log"
        self.access_log_path = self.base / "access.log"
        self._write(http_config)
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, http_config: str, port: int | None = None) -> NginxServer:
        server = cls(http_config, port)
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> None:
        if self.is_running():
            return
        self.check()
        self._process = subprocess.Popen(
            self._command("-g", "daemon off;"),
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(
            self._process, self.port, what="nginx", log=self.error_log_path, timeout=timeout
        )

    def check(self) -> None:
        """nginx -t: a config error raises ServerError with nginx's own message."""
        run(self._command("-t", "-q"), cwd=self.base, as_service=False)

    def reload(self, http_config: str | None = None, timeout: float = 10) -> None:
        """Check the (new) config, SIGHUP, and return once new connections reach only the new
        workers: the old ones have exited or begun shutting down, which is when a worker
        closes its listening sockets before handling any other event."""
        process = self._process_or_fail()
        previous = self.config.read_text()
        if http_config is not None:
            self._write(http_config)
        try:
            self.check()
        except ServerError:
            self.config.write_text(previous)  # what the running master still uses
            raise
        old_workers = children(process.pid)
        started = self.error_log().count(WORKERS_STARTED)
        process.send_signal(signal.SIGHUP)

        def reloaded() -> bool:
            return self.error_log().count(WORKERS_STARTED) > started and all(
                _shutting_down(pid) for pid in old_workers
            )

        wait_until(reloaded, timeout=timeout, what="nginx reload", log=self.error_log_path)

    def stop(self) -> None:
        """SIGQUIT: graceful, in-flight requests finish (SIGKILL after 10 s)."""
        if self._process is not None:
            stop_process(self._process, signal.SIGQUIT)
            self._process = None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def error_log(self) -> str:
        return _read(self.error_log_path)

    def access_log(self) -> str:
        return _read(self.access_log_path)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            remove_dir(self.base)

    def _command(self, *args: str) -> list[str]:
        # -e: the error log before the config is read, otherwise /var/log/nginx/error.log.
        prefix = f"{self.base}/"
        return [
            self.executable,
            "-p",
            prefix,
            "-c",
            str(self.config),
            "-e",
            str(self.error_log_path),
            *args,
        ]

    def _write(self, http_config: str) -> None:
        # As root the workers would run as nobody, who cannot enter this private directory.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        http = http_config.replace("{port}", str(self.port))
        self.config.write_text(MAIN.format(user=user, base=self.base, http=http))

    def _process_or_fail(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            raise ServerError("nginx is not running")
        return self._process


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _shutting_down(pid: int) -> bool:
    if not alive(pid):
        return True
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return True
    return b"shutting down" in title
