"""Several worker processes on one port: the supervisor (parent) and the worker's side of it.

The parent binds the listening socket once and keeps it open, so the kernel's accept queue
outlives every worker: a worker that stops listening leaves its share of new connections to
the others, and a rolling restart never refuses one. Each worker is a fresh interpreter
(`python -m userdir.cli serve --listen-fd N --supervisor-fd M`), so SIGHUP loads new code.

The supervisor fd is one end of a socketpair: the worker writes "ready" on it once it serves,
and sees EOF there when the parent is gone (then it stops by itself, like on SIGTERM).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from userdir.app import create_app
from userdir.config import Settings
from userdir.metrics import shared_dir, worker_gone
from userdir.server import BACKLOG, serve

log = logging.getLogger(__name__)
READY = b"ready\n"
START_TIMEOUT = 60.0  # a worker not serving by then is killed and counts as failed


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every worker inherits: the first address `host` resolves to."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


async def run_worker(settings: Settings, listen_fd: int, supervisor_fd: int) -> None:
    """Serve on the inherited socket until SIGTERM/SIGINT or until the supervisor is gone."""
    loop = asyncio.get_running_loop()
    # The supervisor's signal: a stray SIGHUP must not kill a worker in the middle of requests.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    listener = socket.socket(fileno=listen_fd)
    channel = socket.socket(fileno=supervisor_fd)
    channel.setblocking(False)
    stop = asyncio.Event()

    def supervisor_gone() -> None:
        try:
            if channel.recv(64):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        log.warning("the supervisor is gone: stopping")
        loop.remove_reader(supervisor_fd)
        stop.set()

    def ready(_sockets: list[socket.socket]) -> None:
        try:
            channel.send(READY)  # a few bytes into an empty socket buffer: never blocks
        except OSError:  # the supervisor died while this worker started
            stop.set()

    loop.add_reader(supervisor_fd, supervisor_gone)
    try:
        await serve(
            create_app(settings),
            sock=listener,
            shutdown_timeout=settings.shutdown_timeout,
            keepalive_timeout=settings.keepalive_timeout,
            max_connections=settings.max_connections,
            stop=stop,
            on_ready=ready,
        )
    finally:
        loop.remove_reader(supervisor_fd)
        channel.close()


@dataclass
class Backoff:
    """Delay before replacing a dead worker: none at first, then doubling while workers keep
    dying young, and none again once a worker has stayed up `stable_after` seconds."""

    first: float = 0.5
    cap: float = 30.0
    stable_after: float = 10.0
    failures: int = 0

    def delay(self, uptime: float) -> float:
        if uptime >= self.stable_after:
            self.failures = 0
        delay = 0.0 if self.failures == 0 else min(self.cap, self.first * 2 ** (self.failures - 1))
        self.failures += 1
        return delay


@dataclass(eq=False)
class Worker:
    process: asyncio.subprocess.Process
    channel: asyncio.StreamReader
    writer: asyncio.StreamWriter
    started: float
    ready: asyncio.Future[bool]
    for_reload: bool = False
    serving: bool = False
    retiring: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass(eq=False)
class Supervisor:
    listener: socket.socket
    count: int
    workers: set[Worker] = field(default_factory=set)
    backoff: Backoff = field(default_factory=Backoff)
    starting: int = 0
    serving: bool = False  # every worker of the first generation became ready
    stopping: bool = False
    reloading: bool = False
    exit_code: int = 0
    metrics_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR shared by the workers
    done: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        for sig in handled[:2]:
            loop.add_signal_handler(sig, self._stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        host, port = self.listener.getsockname()[:2]
        log.info("starting %d workers on http://%s:%d", self.count, host, port)
        try:
            first: list[Worker] = []
            try:
                for _ in range(self.count):
                    if worker := await self._spawn():
                        first.append(worker)
            except OSError as exc:  # out of processes or descriptors: nothing to supervise
                log.error("cannot start a worker: %s", exc)
                self.exit_code = 1
                self.stop()
            if all(await asyncio.gather(*(w.ready for w in first))) and not self.stopping:
                self.serving = True
                log.info("%d workers serving", self.count)
            await self.done.wait()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        log.info("all workers stopped")
        return self.exit_code

    def _stop_signal(self, sig: signal.Signals) -> None:
        log.info("%s: stopping %d workers", sig.name, len(self.workers))
        self.stop(sig)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Forward `sig`: each worker drains its requests; a second signal ends them at once."""
        if not self.stopping:
            # Once the workers close their copies too, new connections are refused at once
            # instead of waiting in a queue nobody reads.
            self.listener.close()
        self.stopping = True
        for worker in self.workers:
            if worker.process.returncode is None:
                worker.process.send_signal(sig)
        self._check_done()

    def reload(self) -> None:
        busy = self.stopping or not self.serving or self.reloading
        if busy:
            why = "stopping" if self.stopping else "reloading" if self.reloading else "starting"
            log.warning("SIGHUP ignored: still %s", why)
            return
        self.reloading = True
        self._track(self._reload())

    def _check_done(self) -> None:
        if self.stopping and not self.workers and not self.starting:
            self.done.set()

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _active(self) -> int:
        return self.starting + sum(not w.retiring for w in self.workers)

    async def _spawn(self, *, for_reload: bool = False) -> Worker | None:
        """A new worker process, or None once stopping has begun."""
        if self.stopping:
            return None
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        fds = (self.listener.fileno(), theirs.fileno())
        self.starting += 1
        try:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "userdir.cli", "serve"),
                *("--listen-fd", str(fds[0]), "--supervisor-fd", str(fds[1])),
                stdin=subprocess.DEVNULL,
                pass_fds=fds,
                # Its own process group: a terminal's Ctrl-C reaches the supervisor alone,
                # which forwards it once, instead of every worker twice.
                process_group=0,
            )
            reader, writer = await asyncio.open_unix_connection(sock=ours)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            self.starting -= 1
        worker = Worker(process, reader, writer, loop.time(), loop.create_future(), for_reload)
        self.workers.add(worker)
        if self.stopping:  # began while the process started
            process.send_signal(signal.SIGTERM)
        self._track(self._watch(worker))
        return worker

    async def _watch(self, worker: Worker) -> None:
        try:
            line = await asyncio.wait_for(worker.channel.readline(), START_TIMEOUT)
        except TimeoutError:
            log.error("worker %d not serving after %.0fs: killing it", worker.pid, START_TIMEOUT)
            worker.process.kill()
            line = b""
        except OSError:  # the worker died and its end of the channel was reset
            line = b""
        worker.serving = line == READY
        worker.ready.set_result(worker.serving)
        if worker.serving:
            log.info("worker %d serving", worker.pid)
        code = await worker.process.wait()
        worker_gone(self.metrics_dir, worker.pid)
        worker.writer.close()
        self.workers.discard(worker)
        self._exited(worker, code, asyncio.get_running_loop().time() - worker.started)

    def _exited(self, worker: Worker, code: int, uptime: float) -> None:
        if self.stopping:
            if worker.serving and code != 0:
                log.warning("worker %d stopped with exit code %d", worker.pid, code)
                self.exit_code = self.exit_code or 1
            self._check_done()
        elif worker.retiring:
            log.info("worker %d retired", worker.pid)
        elif not worker.serving and not self.serving:
            log.error("worker %d exited with code %d before serving: stopping", worker.pid, code)
            self.exit_code = code if code > 0 else 1
            self.stop()
        elif not worker.serving and worker.for_reload:
            pass  # the reload reports it and keeps the old workers
        else:
            delay = self.backoff.delay(uptime)
            log.warning(
                "worker %d exited with code %d after %.1fs: replacing it in %.1fs",
                *(worker.pid, code, uptime, delay),
            )
            self._track(self._top_up(delay))

    async def _top_up(self, delay: float) -> None:
        await asyncio.sleep(delay)
        while not self.stopping and self._active() < self.count:
            try:
                await self._spawn()
            except OSError as exc:
                delay = self.backoff.delay(0.0)
                log.error("cannot start a worker: %s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    async def _reload(self) -> None:
        try:
            old = [w for w in self.workers if not w.retiring]
            log.info("SIGHUP: replacing %d workers one by one", len(old))
            for stale in old:
                if stale not in self.workers:
                    continue  # it died meanwhile; its replacement already runs the new code
                fresh = await self._spawn(for_reload=True)
                if fresh is None:
                    return
                if not await fresh.ready:
                    if not self.stopping:
                        log.error("reload stopped: new worker %d did not start", fresh.pid)
                        self._track(self._top_up(0.0))
                    return
                if self.stopping:
                    return
                if stale in self.workers:
                    stale.retiring = True
                    stale.process.send_signal(signal.SIGTERM)  # it drains, then exits
            log.info("reload done")
        finally:
            self.reloading = False


def supervise(settings: Settings) -> int:
    """Run `settings.workers` workers on one socket until SIGTERM/SIGINT; the exit code."""
    with (
        bind(settings.host, settings.port) as listener,
        shared_dir(bool(settings.metrics_token)) as metrics_dir,
    ):
        return asyncio.run(Supervisor(listener, settings.workers, metrics_dir=metrics_dir).run())
