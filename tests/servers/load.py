"""A bounded load generator on aiohttp's client, for fault and overload tests on 127.0.0.1.

    result = await run_load(f"{server}/users", clients=20, duration=2.0, timeout=0.5)
    assert result.server_errors() == 0 and result.percentile(99) < 0.2

To inject a fault mid-run, start it as a task and use the same clock:

    load = LoadGenerator(url, clients=10, duration=3.0)
    task = asyncio.create_task(load.run())
    await load.wait_for_samples(50)
    fault_at = load.elapsed(); await asyncio.to_thread(redis.kill)
    result = await task
    assert result.first_success_after(fault_at) is not None
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict, Unpack
from urllib.parse import urlsplit

import aiohttp

RECORDED_HEADERS = ("Retry-After", "X-Cache")
LONGEST_RUN = 60.0  # seconds: a run that forgot its bounds still ends


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when it started (seconds since the run began), how long it took until its
    body was read or it failed, and its status or, for a failure, the exception's class name."""

    url: str
    started: float
    latency: float
    status: int | None
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def outcome(self) -> int | str:
        return self.status if self.status is not None else str(self.error)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class LoadResult:
    samples: tuple[Sample, ...]
    duration: float

    def __len__(self) -> int:
        return len(self.samples)

    def by_outcome(self) -> Counter[int | str]:
        """How many requests ended with each status or exception class name."""
        return Counter(sample.outcome for sample in self.samples)

    def count_status(self, status: int) -> int:
        return sum(1 for sample in self.samples if sample.status == status)

    def successes(self) -> int:
        return sum(1 for sample in self.samples if sample.ok)

    def server_errors(self) -> int:
        """Responses with a status of 500 or more."""
        return sum(1 for s in self.samples if s.status is not None and s.status >= 500)

    def errors(self) -> int:
        """Requests that got no response: connection errors and timeouts."""
        return sum(1 for sample in self.samples if sample.status is None)

    def error_kinds(self) -> Counter[str]:
        return Counter(str(sample.error) for sample in self.samples if sample.status is None)

    def max_latency(self) -> float:
        return max(self._latencies())

    def percentile(self, percent: float) -> float:
        """Nearest-rank percentile of the latencies of all requests, failures included."""
        latencies = sorted(self._latencies())
        rank = max(1, math.ceil(percent / 100 * len(latencies)))
        return latencies[min(rank, len(latencies)) - 1]

    def first_success_after(self, moment: float) -> Sample | None:
        """The earliest-started 2xx request that started at or after moment (run seconds)."""
        later = [s for s in self.samples if s.ok and s.started >= moment]
        return min(later, key=lambda sample: sample.started, default=None)

    def header_values(self, name: str) -> Counter[str]:
        """How often each value of a recorded response header was seen."""
        return Counter(s.headers[name] for s in self.samples if name in s.headers)

    def between(self, start: float, end: float) -> LoadResult:
        """The requests that started in [start, end) (run seconds)."""
        chosen = tuple(s for s in self.samples if start <= s.started < end)
        return LoadResult(chosen, max(0.0, end - start))

    def _latencies(self) -> list[float]:
        if not self.samples:
            raise ValueError("no requests were made")
        return [sample.latency for sample in self.samples]


class LoadGenerator:
    """clients concurrent loops, each sending one request at a time to the urls in turn, until
    duration seconds have passed or requests have been sent (whichever comes first); each
    request gives up after timeout seconds."""

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        clients: int = 10,
        duration: float | None = None,
        requests: int | None = None,
        timeout: float = 2.0,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        record_headers: Sequence[str] = RECORDED_HEADERS,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise ValueError("no url to load")
        for url in self.urls:
            _require_loopback(url)
        if duration is None and requests is None:
            raise ValueError("give a duration, a request count or both")
        if clients < 1:
            raise ValueError("clients must be at least 1")
        self.clients = clients
        self.duration = min(duration if duration is not None else LONGEST_RUN, LONGEST_RUN)
        self.requests = requests
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.method = method
        self.headers = dict(headers or {})
        self.record_headers = tuple(record_headers)
        self.samples: list[Sample] = []
        self._numbers = itertools.count()
        self._started_at: float | None = None
        self._recorded = asyncio.Condition()
        self._finished = False

    def elapsed(self) -> float:
        """Seconds since the run began, on the clock Sample.started uses (0 before it)."""
        if self._started_at is None:
            return 0.0
        return asyncio.get_running_loop().time() - self._started_at

    async def wait_for_samples(self, count: int) -> None:
        """Until at least count requests have finished; RuntimeError if the run ends first."""
        async with self._recorded:
            await self._recorded.wait_for(lambda: len(self.samples) >= count or self._finished)
        if len(self.samples) < count:
            raise RuntimeError(f"the run ended after {len(self.samples)} of {count} requests")

    async def run(self) -> LoadResult:
        loop = asyncio.get_running_loop()
        self._started_at = loop.time()
        deadline = self._started_at + self.duration
        connector = aiohttp.TCPConnector(limit=self.clients)
        try:
            async with aiohttp.ClientSession(connector=connector, headers=self.headers) as session:
                clients = (self._client(session, deadline) for _ in range(self.clients))
                await asyncio.gather(*clients)
        finally:
            async with self._recorded:
                self._finished = True
                self._recorded.notify_all()
        return LoadResult(tuple(self.samples), loop.time() - self._started_at)

    async def _client(self, session: aiohttp.ClientSession, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            number = next(self._numbers)
            if self.requests is not None and number >= self.requests:
                return
            sample = await self._request(session, self.urls[number % len(self.urls)])
            async with self._recorded:
                self.samples.append(sample)
                self._recorded.notify_all()

    async def _request(self, session: aiohttp.ClientSession, url: str) -> Sample:
        loop = asyncio.get_running_loop()
        assert self._started_at is not None
        begin = loop.time()
        try:
            async with session.request(self.method, url, timeout=self.timeout) as response:
                await response.read()
                headers = {
                    name: response.headers[name]
                    for name in self.record_headers
                    if name in response.headers
                }
                status: int | None = response.status
                error = None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            status, error, headers = None, type(exc).__name__, {}
        return Sample(url, begin - self._started_at, loop.time() - begin, status, error, headers)


class LoadOptions(TypedDict, total=False):
    """LoadGenerator's keyword arguments."""

    clients: int
    duration: float | None
    requests: int | None
    timeout: float
    method: str
    headers: Mapping[str, str] | None
    record_headers: Sequence[str]


async def run_load(urls: str | Sequence[str], **options: Unpack[LoadOptions]) -> LoadResult:
    """LoadGenerator(urls, **options).run()."""
    return await LoadGenerator(urls, **options).run()


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"load is only ever sent to this machine's loopback, not {url}")
