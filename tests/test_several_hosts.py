"""Two `userdir serve` processes on different ports, as on two hosts, behind Debian's nginx
running the site of deploy/nginx-userdir.conf, sharing a private PostgreSQL and a private
Redis: a write through one is seen through the other, a cursor of one works on the other, the
client's address passes through, and killing one under load loses no GET. Run with -s to see
the measured figures (FIGURES lines)."""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.fault_app import API_TOKEN, figures
from tests.processes import ServerProcess, running_server, wait_until_serving
from tests.servers.load import LoadGenerator, run_load
from tests.servers.nginx import NginxServer
from tests.servers.redis import RedisServer

pytestmark = pytest.mark.slow

SITE = Path(__file__).parents[1] / "deploy" / "nginx-userdir.conf"
UPSTREAM_SERVER = re.compile(r"^\s*server 10\.0\.0\.\d+:5005 (.*);$", re.MULTILINE)
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
INVALIDATION_BOUND = 1.0  # seconds: NOTIFY reaches the other process within milliseconds
NEXT = re.compile(r'<([^>]+)>; rel="next"')


def site(ports: list[int]) -> str:
    """The deployed site, its upstreams being these local ports, listening on nginx's port."""
    text = SITE.read_text()
    servers = UPSTREAM_SERVER.findall(text)
    assert len(servers) >= 2, "the site lists its hosts as server 10.0.0.N:5005 lines"
    options = servers[0]
    lines = "\n".join(f"    server 127.0.0.1:{port} {options};" for port in ports)
    text = UPSTREAM_SERVER.sub("", text).replace(
        "upstream userdir {", "upstream userdir {\n" + lines
    )
    assert "    listen 80;" in text
    return text.replace("    listen 80;", "    listen 127.0.0.1:{port};")


@dataclass
class Hosts:
    one: ServerProcess
    two: ServerProcess
    nginx: NginxServer


@pytest.fixture
async def hosts(
    fault_database: str,
    private_redis: RedisServer,
    nginx_factory: Callable[..., NginxServer],
) -> AsyncIterator[Hosts]:
    # What every host shares (README, "Running it at scale").
    shared = {
        "CACHE_URL": private_redis.url,
        "CACHE_TTL": "20",
        "CURSOR_SECRET": "several-hosts-cursor-secret",
        "USERDIR_API_TOKENS": API_TOKEN,
        "TRUSTED_PROXIES": "127.0.0.1",
        "RATE_LIMIT": "100000/minute",
    }
    async with AsyncExitStack() as stack:
        one, two = [
            await stack.enter_async_context(running_server(fault_database, **shared))
            for _ in range(2)
        ]
        await asyncio.gather(wait_until_serving(one), wait_until_serving(two))
        nginx = nginx_factory(site([one.port, two.port]))
        yield Hosts(one, two, nginx)


async def _get(
    http: aiohttp.ClientSession, url: str, headers: Mapping[str, str] | None = None
) -> aiohttp.ClientResponse:
    async with http.get(url, headers=headers) as response:
        await response.read()
        return response


async def test_a_write_through_one_host_is_seen_through_the_other(hosts: Hosts) -> None:
    delays = []
    async with aiohttp.ClientSession(headers=AUTH) as http:
        for round_ in range(20):
            # Both hosts hold the restaurant cached at the version before the write.
            for host in (hosts.one, hosts.two):
                assert (await _get(http, f"{host.base}/restaurant/1")).status == 200
            name = f"Renamed {round_}"
            async with http.patch(f"{hosts.one.base}/restaurant/1", json={"name": name}) as r:
                assert r.status == 200
            written = time.monotonic()
            while True:
                async with http.get(f"{hosts.two.base}/restaurant/1") as response:
                    body = await response.json()
                if body["name"] == name:
                    break
                assert time.monotonic() - written < INVALIDATION_BOUND, f"still {body}"
                await asyncio.sleep(0.001)
            delays.append(time.monotonic() - written)
        async with http.get(f"{hosts.nginx.url}/restaurant/1") as response:
            assert (await response.json())["name"] == name
    delays.sort()
    figures(
        "write on one host, seen on the other",
        writes=len(delays),
        p50_ms=statistics.median(delays) * 1000,
        p99_ms=delays[math.ceil(0.99 * len(delays)) - 1] * 1000,
    )


async def test_a_cursor_of_one_host_works_on_the_other(hosts: Hosts) -> None:
    async with aiohttp.ClientSession() as http:
        first = await _get(http, f"{hosts.one.base}/users?order_by=username&pagination=3")
        assert first.status == 200
        (after,) = NEXT.findall(first.headers["Link"])
        following = f"{hosts.two.base}{after[after.index('/users') :]}"
        async with http.get(following) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        async with http.get(f"{hosts.one.base}/users?order_by=username&pagination=6") as six:
            expected = (await six.json())[3:]
    assert [u["username"] for u in page] == [u["username"] for u in expected]


async def test_the_client_address_passes_through_nginx(hosts: Hosts) -> None:
    """The rate limit counts per client, as nginx's X-Forwarded-For names it (TRUSTED_PROXIES):
    two clients behind the one nginx address are counted apart."""
    url = f"{hosts.nginx.url}/users/mojombo"
    async with aiohttp.ClientSession() as http:
        used = {}
        for client, times in (("198.51.100.1", 3), ("198.51.100.2", 1)):
            for _ in range(times):
                response = await _get(http, url, headers={"X-Forwarded-For": client})
                assert response.status == 200
            used[client] = int(response.headers["X-RateLimit-Used"])
    assert used == {"198.51.100.1": 3, "198.51.100.2": 1}


async def test_killing_one_host_under_load_loses_no_get(hosts: Hosts) -> None:
    paths = ["/users?type=Organization", "/users/mojombo", "/restaurant/1/item", "/restaurant/2"]
    load = LoadGenerator(
        [f"{hosts.nginx.url}{path}" for path in paths], clients=8, duration=4.0, timeout=5.0
    )
    run = asyncio.create_task(load.run())
    await load.wait_for_samples(200)
    killed_at = load.elapsed()
    hosts.one.process.kill()  # SIGKILL: requests in flight on it are cut
    result = await run
    after = result.between(killed_at, result.duration)
    figures(
        "one of two hosts killed under load",
        requests=len(result),
        after_kill=len(after),
        outcomes=dict(result.by_outcome()),
        p99_ms=result.percentile(99) * 1000,
    )
    assert result.by_outcome() == {200: len(result)}
    assert after.successes() > 50  # the other host carried on
    assert await hosts.one.exit_code(timeout=5) != 0
    # nginx saw the host fail and sent those GETs on to the other one.
    failed = [
        line for line in hosts.nginx.error_log().splitlines() if f":{hosts.one.port}/" in line
    ]
    assert failed, hosts.nginx.error_log()


async def test_throughput_of_two_hosts_against_one(hosts: Hosts) -> None:
    """Figures only (-s): requests a second through nginx to one host, then to both, with the
    load generated in this same process on the same cores; every answer must be a 200."""
    paths = ["/users/mojombo", "/users/defunkt", "/restaurant/1/item"]
    urls = [f"{hosts.nginx.url}{path}" for path in paths]
    rates = {}
    for label, ports in (("one", [hosts.one.port]), ("two", [hosts.one.port, hosts.two.port])):
        await asyncio.to_thread(hosts.nginx.reload, site(ports))
        await run_load(urls, clients=32, duration=0.5, timeout=5.0)  # warm pools and caches
        result = await run_load(urls, clients=32, duration=3.0, timeout=5.0)
        assert result.by_outcome() == {200: len(result)}
        rates[label] = len(result) / result.duration
        figures(
            f"throughput through nginx, {label} host(s)",
            requests_per_s=rates[label],
            p50_ms=result.percentile(50) * 1000,
            p99_ms=result.percentile(99) * 1000,
        )
    figures("two hosts against one", ratio=rates["two"] / rates["one"])
