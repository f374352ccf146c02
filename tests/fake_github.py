"""A fake of GitHub's list-users API: a real aiohttp server on 127.0.0.1.

It serves records in GitHub's format with `since`/`per_page`, Link and ETag headers, a
per-token hourly budget in X-RateLimit-* headers on a clock the test controls, and faults
scripted one request at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

START = 1_700_000_000.0  # the fake clock's epoch time at start


@dataclass
class Fault:
    """What to do instead of answering one request normally."""

    status: int = 0  # answer this status with a GitHub-style error body
    retry_after: int | None = None  # ... with this Retry-After header
    hang: bool = False  # never answer (until `release` is set): the client times out
    truncate: bool = False  # promise the full body, send half, close the connection
    body: bytes | None = None  # answer 200 with this body instead
    message: str | None = None  # the error body's message, instead of the status's usual one


@dataclass
class FakeGitHub:
    users: list[dict[str, Any]]
    limit: int = 60
    window: float = 3600.0
    now: float = START
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[web.Request] = field(default_factory=list)
    budgets: dict[str | None, tuple[int, float]] = field(default_factory=dict)
    served: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    hold_after: int | None = None  # requests answered normally before the rest hang
    on_request: Callable[[web.Request], None] | None = None
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """The client's sleep: time passes on the fake's clock, not the wall clock."""
        self.now += seconds

    def fail(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def spend(self, token: str | None, remaining: int = 0) -> None:
        self.budgets[token] = (remaining, self._window_end(token))

    def _window_end(self, token: str | None) -> float:
        _, reset = self.budgets.get(token, (self.limit, self.now + self.window))
        return reset if reset > self.now else self.now + self.window

    def _charge(self, token: str | None) -> tuple[int, float]:
        remaining, reset = self.budgets.get(token, (self.limit, self.now + self.window))
        if self.now >= reset:
            remaining, reset = self.limit, self.now + self.window
        self.budgets[token] = (remaining, reset)
        return remaining, reset

    def _rate_headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used": str(self.limit - remaining),
            "X-RateLimit-Reset": str(int(reset)),
            "X-RateLimit-Resource": "core",
        }

    def page(self, since: int, per_page: int) -> list[dict[str, Any]]:
        return [u for u in self.users if u["id"] > since][:per_page]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if self.on_request is not None:
            self.on_request(request)
        if self.hold_after is not None and len(self.requests) > self.hold_after:
            self.served.set()
            await self.release.wait()
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        remaining, reset = self._charge(token)
        if self.faults:
            return await self._fault(request, self.faults.popleft(), remaining, reset)
        if remaining <= 0:
            return _error(
                403, "API rate limit exceeded for 127.0.0.1.", self._rate_headers(0, reset)
            )
        try:
            since = int(request.query.get("since", "0"))
            per_page = min(100, max(1, int(request.query.get("per_page", "30"))))
        except ValueError:
            return _error(422, "Validation Failed", {})
        records = self.page(since, per_page)
        body = orjson.dumps(records)
        etag = f'W/"{hashlib.sha256(body).hexdigest()}"'
        if request.headers.get("If-None-Match") == etag:
            # A conditional hit costs nothing from the budget, as on GitHub.
            return web.Response(
                status=304, headers={"ETag": etag, **self._rate_headers(remaining, reset)}
            )
        remaining -= 1
        self.budgets[token] = (remaining, reset)
        headers = {"ETag": etag, **self._rate_headers(remaining, reset)}
        if records and self.page(records[-1]["id"], 1):
            base = f"{self.url}/users"
            headers["Link"] = (
                f'<{base}?per_page={per_page}&since={records[-1]["id"]}>; rel="next", '
                f'<{base}{{?since}}>; rel="first"'
            )
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def _fault(
        self, request: web.Request, fault: Fault, remaining: int, reset: float
    ) -> web.StreamResponse:
        headers = self._rate_headers(remaining, reset)
        if fault.hang:
            await self.release.wait()
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.truncate:
            body = orjson.dumps(self.page(int(request.query.get("since", "0")), 100))
            response = web.StreamResponse(headers=headers)
            response.content_type = "application/json"
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.close()
            return response
        if fault.body is not None:
            return web.Response(body=fault.body, content_type="application/json", headers=headers)
        messages = {
            403: "You have exceeded a secondary rate limit.",
            429: "Too many requests.",
            401: "Bad credentials",
        }
        message = fault.message or messages.get(fault.status, "Server Error")
        return _error(fault.status, message, headers)


def _error(status: int, message: str, headers: dict[str, str]) -> web.Response:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    return web.json_response(body, status=status, headers=headers)


@asynccontextmanager
async def running_fake(
    users: Sequence[dict[str, Any]], **options: Any
) -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub(users=sorted(users, key=lambda u: u["id"]), **options)
    app = web.Application()
    app.router.add_get("/users", fake.handle)
    fake.server = TestServer(app, host="127.0.0.1")
    await fake.server.start_server()
    try:
        yield fake
    finally:
        fake.release.set()  # let any hanging handler finish before the server closes
        await fake.server.close()


def github_users() -> list[dict[str, Any]]:
    """The bundled snapshot, raw: every field exactly as GitHub's API returns it."""
    raw = resources.files("userdir").joinpath("data/github-users.json").read_bytes()
    users: list[dict[str, Any]] = orjson.loads(raw)
    return users


@dataclass
class Sleeps:
    """The client's sleep: records each wait and moves the fake's clock instead of waiting."""

    fake: FakeGitHub
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self.fake.sleep(seconds)
