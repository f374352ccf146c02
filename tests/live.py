"""A real server on 127.0.0.1 in a thread of its own, for clients that block (schemathesis)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web


@contextmanager
def serve_in_thread(app: web.Application, *, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 from its own event loop; yields the base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handle_signals=False)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    thread = threading.Thread(target=loop.run_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(timeout)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()
