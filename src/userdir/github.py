"""A polite client for GitHub's list-users API: tokens, rate limits, retries and ETags."""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

import httpx
import orjson

from userdir import __version__

API_VERSION = "2022-11-28"
USER_AGENT = f"userdir/{__version__} (+https://github.com/userdir)"
MAX_PER_PAGE = 100  # GitHub's own cap for list endpoints
SECONDARY_WAIT = 60.0  # seconds; GitHub's minimum for a secondary limit without Retry-After
ETAG_PAGES = 32  # pages whose ETag and body are kept (~100 KB each), least recently used out

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
OnWait = Callable[[float, str], None]


class GitHubError(Exception):
    """GitHub could not be used; the message is one line meant for a person."""


class GitHubUnreachable(GitHubError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach {url} ({reason}); "
            "to seed without the network, use --from-file PATH (a JSON array of GitHub users)"
        )


class RateLimited(GitHubError):
    """Every token's budget is spent and waiting was not allowed."""


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    records: list[object]
    next_url: str | None
    not_modified: bool = False


@dataclass(slots=True)
class Budget:
    """What GitHub last said about one token's (or the anonymous caller's) hourly budget."""

    token: str | None
    remaining: int | None = None  # None: not known yet, assumed plentiful
    limit: int | None = None
    reset_at: float = 0.0

    def available(self, now: float) -> bool:
        return self.remaining is None or self.remaining > 0 or now >= self.reset_at

    def score(self, now: float) -> float:
        if self.remaining is None or now >= self.reset_at:
            return float("inf")
        return float(self.remaining)


@dataclass(frozen=True, slots=True)
class _Retry:
    """Not a page: why (None: the budget is spent), and a wait GitHub asked for, if any."""

    problem: str | None
    delay: float | None = None
    waiting: str | None = None


@dataclass(slots=True)
class _Cached:
    etag: str
    records: list[object]
    next_url: str | None


@dataclass(slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter: attempt n waits about base * 2**n, capped."""

    attempts: int = 5
    base: float = 1.0
    cap: float = 30.0
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2**attempt)
        # "Equal jitter": never less than half the ceiling, so retries never stampede at 0 s.
        return float(ceiling / 2 + self.rng() * ceiling / 2)


def format_reset(reset_at: float, now: float) -> str:
    moment = datetime.fromtimestamp(reset_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{moment} (in {format_duration(reset_at - now)})"


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.reason_phrase


class GitHubClient:
    """One keep-alive connection to the API; use as `async with GitHubClient(...) as gh`.

    `sleep` and `clock` are injected so rate-limit waits and backoff can be driven by tests;
    `on_wait(seconds, reason)` is told before every deliberate wait (for the progress display).
    """

    def __init__(
        self,
        base_url: str,
        tokens: Sequence[str] = (),
        *,
        wait_for_reset: bool = True,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
        on_wait: OnWait | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budgets = [Budget(t) for t in tokens] or [Budget(None)]
        self.wait_for_reset = wait_for_reset
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self.on_wait = on_wait
        self._etags: OrderedDict[str, _Cached] = OrderedDict()
        self._http = httpx.AsyncClient(
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
            timeout=httpx.Timeout(timeout),
            # One connection, kept alive: GitHub asks clients not to make concurrent requests.
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            follow_redirects=True,
            transport=transport,
        )

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def users_url(self, since: int, per_page: int = MAX_PER_PAGE) -> str:
        return f"{self.base_url}/users?since={since}&per_page={per_page}"

    async def _wait(self, seconds: float, reason: str) -> None:
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        await self.sleep(max(0.0, seconds))

    async def _budget(self) -> Budget:
        """The token with the most budget left, waiting for a reset if every one is spent."""
        now = self.clock()
        ready = [b for b in self.budgets if b.available(now)]
        if ready:
            return max(ready, key=lambda b: b.score(now))
        soonest = min(self.budgets, key=lambda b: b.reset_at)
        spent = f"GitHub rate limit spent (0 of {soonest.limit or '?'} requests left)"
        if not self.wait_for_reset:
            raise RateLimited(f"{spent}; it resets at {format_reset(soonest.reset_at, now)}")
        # One second past the reset: GitHub's clock and ours may disagree by a little.
        await self._wait(soonest.reset_at - now + 1, f"{spent}, waiting for the reset")
        return soonest

    def _record_budget(self, budget: Budget, response: httpx.Response) -> None:
        remaining = _int_header(response.headers, "X-RateLimit-Remaining")
        if remaining is None:
            return
        budget.remaining = remaining
        budget.limit = _int_header(response.headers, "X-RateLimit-Limit") or budget.limit
        budget.reset_at = float(_int_header(response.headers, "X-RateLimit-Reset") or 0)

    async def get_page(self, url: str) -> Page:
        """GET one page of users; retries what is worth retrying, raises GitHubError otherwise."""
        failures = 0
        while True:
            budget = await self._budget()
            headers = {}
            if budget.token:
                headers["Authorization"] = f"Bearer {budget.token}"
            cached = self._etags.get(url)
            if cached is not None:
                headers["If-None-Match"] = cached.etag
            try:
                response = await self._http.get(url, headers=headers)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL):
                raise GitHubError(f"{url} is not an http(s) URL: check GITHUB_API_URL") from None
            except httpx.TimeoutException:
                outcome: Page | _Retry = _Retry("timed out")
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                outcome = _Retry(reason)
            else:
                self._record_budget(budget, response)
                outcome = self._handle(url, response, budget, cached)
            if isinstance(outcome, Page):
                return outcome
            if outcome.problem is None:  # the budget is spent: the next _budget() waits
                continue
            failures += 1
            if failures >= self.retry.attempts:
                tries = f" ({failures} attempts)" if failures > 1 else ""
                if outcome.problem.startswith("HTTP "):
                    raise GitHubError(f"GitHub answered {outcome.problem} for {url}{tries}")
                raise GitHubUnreachable(url, f"{outcome.problem}{tries}")
            delay = self.retry.delay(failures - 1) if outcome.delay is None else outcome.delay
            await self._wait(delay, outcome.waiting or f"{outcome.problem}, retrying")

    def _handle(
        self, url: str, response: httpx.Response, budget: Budget, cached: _Cached | None
    ) -> Page | _Retry:
        status = response.status_code
        if status == 304 and cached is not None:
            self._etags.move_to_end(url)
            return Page(url, cached.records, cached.next_url, not_modified=True)
        if status == 200:
            try:
                records = orjson.loads(response.content)
            except orjson.JSONDecodeError as exc:
                return _Retry(f"malformed JSON ({exc})")
            if not isinstance(records, list):
                raise GitHubError(f"{url} did not answer a JSON array of users")
            next_url: str | None = response.links.get("next", {}).get("url")
            etag = response.headers.get("ETag")
            if etag:
                self._etags[url] = _Cached(etag, records, next_url)
                self._etags.move_to_end(url)
                while len(self._etags) > ETAG_PAGES:
                    self._etags.popitem(last=False)
            return Page(url, records, next_url)
        problem = f"HTTP {status} {response.reason_phrase}"
        if status in (403, 429):
            slow_down = f"GitHub asked to slow down ({status})"
            retry_after = _int_header(response.headers, "Retry-After")
            if retry_after is not None:
                # A secondary limit that names its wait; hammering on risks a longer ban.
                return _Retry(problem, float(retry_after), slow_down)
            if budget.remaining == 0:
                # A reset already past by our clock would retry at once, forever: wait a minute.
                budget.reset_at = max(budget.reset_at, self.clock() + 60)
                return _Retry(None)
            if status == 429 or "secondary rate limit" in _message(response).lower():
                # GitHub's guidance for a secondary limit without Retry-After: a minute at least.
                return _Retry(problem, SECONDARY_WAIT, slow_down)
        if status >= 500:
            return _Retry(problem)
        if status == 401:
            raise GitHubError(
                f"GitHub rejected the token (401 {_message(response)}): check GITHUB_TOKEN(S)"
            )
        raise GitHubError(f"GitHub answered {status} {_message(response)} for {url}")
