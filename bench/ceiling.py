"""aiohttp's own ceiling: `{"ok": true}` served exactly the way userdir serves.

Each process runs `userdir.server.serve` (loop.create_server, with the keep-alive and connection
limits userdir would get from this environment) on the cli's uvloop policy, so what separates
userdir from this is userdir's own work per request.
The parent binds one socket and starts N processes that serve it; it prints `ready URL` once
every one of them listens, and stops them all on SIGTERM/SIGINT or when one of them exits.

    .venv/bin/python bench/ceiling.py --port 8080 [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import time

from aiohttp import web

from userdir.cli import _event_loop_policy
from userdir.config import load_settings
from userdir.server import serve

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", ok)
    return app


async def serve_socket(sock: socket.socket) -> None:
    def ready(_: list[socket.socket]) -> None:
        print("ready", flush=True)

    settings = load_settings(os.environ)  # userdir's connection limits in this environment
    await serve(
        create_app(),
        sock=sock,
        shutdown_timeout=1.0,
        keepalive_timeout=settings.keepalive_timeout,
        max_connections=settings.max_connections,
        on_ready=ready,
    )


def child(fd: int) -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # the parent's mask came through exec
    sock = socket.socket(fileno=fd)
    _event_loop_policy()
    asyncio.run(serve_socket(sock))


def wait_ready(children: list[subprocess.Popen[str]], timeout: float) -> None:
    """Every child writes `ready` to its stdout pipe once it listens."""
    deadline = time.monotonic() + timeout
    for process in children:
        assert process.stdout is not None
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or process.poll() is not None:
                raise RuntimeError("a ceiling process did not start")
            if select.select([process.stdout], [], [], min(left, 0.5))[0]:
                if process.stdout.readline().strip() == "ready":
                    break


def stop(children: list[subprocess.Popen[str]]) -> None:
    for process in children:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def parent(port: int, processes: int) -> int:
    sock = socket.create_server(("127.0.0.1", port), backlog=1024)
    fd = sock.fileno()
    # Blocked before any child exists, so a stop request never finds children unwatched; each
    # child unblocks them first thing.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--fd", str(fd)],
            pass_fds=[fd],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    sock.close()  # the children hold it now
    try:
        wait_ready(children, READY_TIMEOUT)
        print(f"ready http://127.0.0.1:{port}/", flush=True)
        received = signal.sigwait(SIGNALS)
        return 1 if received == signal.SIGCHLD else 0
    finally:
        stop(children)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # a child's shared socket
    args = parser.parse_args()
    if args.fd is not None:
        child(args.fd)
        return 0
    return parent(args.port, args.processes)


if __name__ == "__main__":
    sys.exit(main())
