"""Serving on asyncio directly: the only module that touches aiohttp's internals.

Start-up and shutdown repeat aiohttp's AppRunner order (aiohttp/web_runner.py), without it.

Hostile clients are bounded here, below the app:
- aiohttp arms its keep-alive timer when a connection is made and closes the connection when
  the timer fires while no complete request head has arrived; bytes of a partial head do not
  re-arm it (aiohttp 3.14 web_protocol.py: connection_made, _process_keepalive). So one
  KEEPALIVE_TIMEOUT bounds idle keep-alive connections and slow request heads (slowloris) alike.
- At most MAX_CONNECTIONS connections reach the app; one more gets a bare 503 and is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import signal
import socket
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i" rid=%{X-Request-ID}o'
BACKLOG = 1024
# Longest a refused connection stays open after its 503, so the client can read the reply
# before the socket closes (closing with its request unread would reset the connection).
REFUSAL_LINGER = 1.0
# How long requests cut off at SHUTDOWN_TIMEOUT get to unwind (return database connections).
CANCEL_GRACE = 1.0
# Descriptors needed besides client connections: database and cache pools, logs, the listener.
SPARE_FDS = 64

_BUSY_BODY = json.dumps(
    {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Too many open connections; retry shortly.",
    }
).encode()
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/problem+json\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"\r\n" + _BUSY_BODY
)


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:  # an unlimited hard limit (macOS) is refused
            log.warning("open files limit stays %d (hard %d): %s", soft, hard, exc)
            return soft
    log.info("open files limit: soft %d -> %d (hard %d)", soft, hard, hard)
    return hard


class _Gate:
    """Protocol factory for create_server: counts the connections that reach the app."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self.server = server
        self.limit = limit
        self.open = 0
        self.lingering: dict[asyncio.Transport, asyncio.TimerHandle] = {}

    def __call__(self) -> RequestHandler:
        # The same construction as web.Server.__call__, with the counting subclass.
        return _CountedHandler(self, self.server, loop=self.server._loop, **self.server._kwargs)

    def refuse(self, transport: asyncio.Transport) -> None:
        if len(self.lingering) >= self.limit:  # a flood: do not hold a descriptor per refusal
            transport.abort()
            return
        transport.write(BUSY_RESPONSE)
        if transport.can_write_eof():
            transport.write_eof()  # the client sees the end of the reply and closes its side
        loop = asyncio.get_running_loop()
        self.lingering[transport] = loop.call_later(REFUSAL_LINGER, transport.close)

    def forget(self, transport: asyncio.Transport | None) -> None:
        if transport is not None and (handle := self.lingering.pop(transport, None)):
            handle.cancel()

    def close_refused(self) -> None:
        for transport, handle in list(self.lingering.items()):
            handle.cancel()
            transport.close()
        self.lingering.clear()


class _CountedHandler(RequestHandler):
    """aiohttp's RequestHandler that, past the gate's limit, answers 503 and never parses.

    The count moves in connection_made/connection_lost, which the loop calls exactly once
    each per accepted connection, so it neither overshoots during a burst of accepts nor
    leaks when a transport fails before it is made.
    """

    __slots__ = ("_gate", "_refused_transport")

    def __init__(self, gate: _Gate, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._gate = gate
        self._refused_transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._gate.open >= self._gate.limit:
            # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
            self._refused_transport = cast(asyncio.Transport, transport)
            self._gate.refuse(self._refused_transport)
            return
        self._gate.open += 1
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused_transport is not None:
            self._gate.forget(self._refused_transport)
            self._refused_transport = None
            return
        self._gate.open -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused_transport is None:
            super().data_received(data)
        # A refused client's request is read and dropped: unread bytes would turn the
        # final close into a reset that can destroy the 503 before the client reads it.


def _force_close(connection: RequestHandler, _task: object) -> None:
    connection.force_close()


async def _drain(handler: web.Server, timeout: float) -> bool:
    """Let in-flight requests finish within `timeout`, then cancel the rest and close all.

    Replaces web.Server.shutdown(timeout), which can take twice `timeout` and more for a
    request that will not finish: it waits once for the request, then again after only
    failing its body, and once more per connection whose cancellation is slow to unwind.
    """
    busy: set[asyncio.Task[None]] = set()
    for connection in handler.connections:
        task = connection._task_handler
        if task is None or task.done():
            connection.force_close()
        else:
            # A connection closes as soon as its last request is answered, not at the end of
            # the drain: a client must not send a request into it meanwhile and wait for nothing.
            task.add_done_callback(partial(_force_close, connection))
            busy.add(task)
    late: set[asyncio.Task[None]] = set()
    if busy:
        _, late = await asyncio.wait(busy, timeout=timeout)
        if late:
            log.warning("cutting off %d request(s) still running after %.0fs", len(late), timeout)
            for task in late:
                task.cancel()  # and so the request's handler task it awaits
            await asyncio.wait(late, timeout=CANCEL_GRACE)
    for connection in handler.connections:
        connection.force_close()
    return bool(late)


async def _end_stragglers(timeout: float) -> None:
    """Cancel, again and again for up to `timeout`, every other task still in the loop.

    After a request is cut off, its database driver may still be unwinding in tasks of its
    own, and may await again after a cancellation: SQLAlchemy's terminate() shields an
    aiosqlite close() whose `finally` waits for a worker thread that has already stopped.
    asyncio.run cancels leftovers once and then waits for them without limit, so without
    this the process would never exit. serve() owns the process (its signals), so the loop.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while others := asyncio.all_tasks() - {asyncio.current_task()}:
        if loop.time() >= deadline:
            log.error("%d task(s) would not end after cancellation", len(others))
            return
        for task in others:
            task.cancel()
        await asyncio.wait(others, timeout=0.05)


async def serve(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sock: socket.socket | None = None,
    shutdown_timeout: float = 10.0,
    keepalive_timeout: float = 15.0,
    max_connections: int = 1000,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[list[socket.socket]], None] | None = None,
) -> None:
    """Serve `app` until SIGINT/SIGTERM (or `stop` is set), then shut down gracefully.

    Binds host:port, or serves on `sock` (already bound and listening, shared by workers).
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    fds = raise_open_files_limit()
    if max_connections + SPARE_FDS > fds:
        log.warning("MAX_CONNECTIONS=%d is near the open files limit %d", max_connections, fds)
    app.on_startup.freeze()
    try:
        await app.startup()
    except BaseException:
        await app.cleanup()  # closes whatever the cleanup contexts opened before the failure
        raise
    app.freeze()
    handler = app._make_handler(
        loop=loop,
        access_log=logging.getLogger("userdir.access"),
        access_log_format=ACCESS_LOG_FORMAT,
        keepalive_timeout=keepalive_timeout,
    )
    gate = _Gate(handler, max_connections)
    if sock is None:
        server = await loop.create_server(gate, host, port, reuse_address=True, backlog=BACKLOG)
    else:
        server = await loop.create_server(gate, sock=sock, backlog=BACKLOG)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        sockets = list(server.sockets)
        for listener in sockets:
            log.info("serving on http://%s:%d", *listener.getsockname()[:2])
        if on_ready is not None:
            on_ready(sockets)
        await stop.wait()
    finally:
        log.info(
            "shutting down: no new connections, waiting up to %.0fs for requests", shutdown_timeout
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        server.close()
        # Let requests that were accepted just before close() reach their handlers.
        await asyncio.sleep(0)
        handler.pre_shutdown()  # idle keep-alive connections close now, busy ones after
        gate.close_refused()
        await app.shutdown()
        cut_off = await _drain(handler, shutdown_timeout)
        await app.cleanup()  # disposes the engine and closes the cache
        if cut_off:
            await _end_stragglers(CANCEL_GRACE)
        log.info("stopped")
