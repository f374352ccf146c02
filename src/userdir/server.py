"""Serving on asyncio directly: the only module that touches aiohttp's internals.

Start-up and shutdown repeat aiohttp's AppRunner order (aiohttp/web_runner.py), without it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i" rid=%{X-Request-ID}o'


async def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    shutdown_timeout: float = 10.0,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[list[socket.socket]], None] | None = None,
) -> None:
    """Serve `app` until SIGINT/SIGTERM (or `stop` is set), then shut down gracefully."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
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
    )
    server = await loop.create_server(handler, host, port, reuse_address=True, backlog=1024)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sockets = list(server.sockets)
    for sock in sockets:
        log.info("serving on http://%s:%d", *sock.getsockname()[:2])
    if on_ready is not None:
        on_ready(sockets)
    try:
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
        await app.shutdown()
        await handler.shutdown(shutdown_timeout)
        await app.cleanup()  # disposes the engine and closes the cache
        log.info("stopped")
