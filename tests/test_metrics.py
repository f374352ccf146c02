"""GET /metrics (Prometheus text, behind METRICS_TOKEN) and LOG_FORMAT=json log lines."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import AppClient, MakeClient
from tests.processes import running_server
from userdir import logs
from userdir.config import Settings

TOKEN = "metrics-token-0123456789"
GITHUB_USERS = Path(__file__).parents[1] / "src" / "userdir" / "data" / "github-users.json"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
Page = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Page:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(page: Page, name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_no_metrics_route_without_a_token(client: AppClient) -> None:
    response = await client.get("/metrics")
    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_metrics_need_the_token(make_client: MakeClient) -> None:
    client: AppClient = await make_client(metrics_token=TOKEN)
    missing = await client.get("/metrics")
    assert missing.status == 401 and "Bearer" in missing.headers["WWW-Authenticate"]
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert wrong.status == 403
    assert (await client.get("/metrics", headers=BEARER)).status == 200


async def test_requests_cache_and_pools_are_counted(
    make_client: MakeClient,
    settings: Settings,
    sample: None,
) -> None:
    client: AppClient = await make_client(metrics_token=TOKEN, cache_ttl=20)
    for _ in range(3):
        assert (await client.get("/users?type=Organization")).status == 200
    assert (await client.get("/users/mojombo")).status == 200
    assert (await client.get("/users/no-such-user")).status == 404
    assert (await client.get("/no/such/path")).status == 404

    response = await client.get("/metrics", headers=BEARER)
    assert response.content_type == "text/plain"
    page = samples(await response.text())
    requests = "userdir_http_requests_total"
    assert value(page, requests, method="GET", route="/users", status="200") == 3
    assert value(page, requests, method="GET", route="/users/{username}", status="200") == 1
    assert value(page, requests, method="GET", route="/users/{username}", status="404") == 1
    assert value(page, requests, method="GET", route="unmatched", status="404") == 1
    latency = "userdir_http_request_duration_seconds_count"
    assert value(page, latency, method="GET", route="/users") == 3
    # The first /users is a miss, the two after it hits.
    assert value(page, "userdir_cache_lookups_total", result="miss") == 1
    assert value(page, "userdir_cache_lookups_total", result="hit") == 2
    assert value(page, "userdir_cache_circuit_open") == 0
    assert value(page, "userdir_versions_live") == 1
    if settings.database_url.startswith("postgresql"):
        pool = "userdir_db_pool_connections"
        assert value(page, pool, source="primary", state="in_use") == 0  # all returned
        assert value(page, pool, source="primary", state="idle") >= 1
        assert value(page, "userdir_db_pool_waiting", source="primary") == 0


@pytest.mark.slow
async def test_workers_share_one_view_and_log_json_lines(sqlite_url: str) -> None:
    """Under `serve --workers 2` any worker's /metrics counts every worker's requests; with
    LOG_FORMAT=json each log line is one JSON object, the access lines with the request id."""
    requests = 30
    env = {"METRICS_TOKEN": TOKEN, "LOG_FORMAT": "json", "WORKERS": "2"}
    async with running_server(sqlite_url, **env) as server:
        await server.wait_for(r'"worker \d+ serving"', count=2)
        connector = aiohttp.TCPConnector(force_close=True)  # the kernel spreads connections
        async with aiohttp.ClientSession(connector=connector) as http:
            ids = set()
            for _ in range(requests):
                async with http.get(f"{server.base}/livez") as response:
                    assert response.status == 200
                    ids.add(response.headers["X-Request-ID"])
            await server.wait_for(r"/livez", count=requests)
            async with http.get(f"{server.base}/metrics", headers=BEARER) as response:
                page = samples(await response.text())
        lines = [json.loads(line) for line in server.lines if line.startswith("{")]
        (directory,) = [
            Path(line["message"].rpartition(" ")[2])
            for line in lines
            if line["message"].startswith("metrics of the workers in ")
        ]
        assert directory.is_dir()
        server.process.send_signal(signal.SIGTERM)
        assert await server.exit_code(timeout=30) == 0
    lines = [json.loads(line) for line in server.lines if line.startswith("{")]
    assert len(lines) == len(server.lines)  # nothing but JSON
    served = {line["pid"] for line in lines if "/livez" in line["message"]}
    assert len(served) == 2  # both workers answered
    assert {line.get("request_id") for line in lines if "/livez" in line["message"]} == ids
    total = value(page, "userdir_http_requests_total", method="GET", route="/livez", status="200")
    assert total == requests
    live = [k for k in page if k[0] == "userdir_versions_live"]
    assert len(live) == 2  # one per worker, told apart by its pid label
    assert not directory.exists()  # the supervisor made it and removed it


def test_json_lines_carry_the_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("userdir.test_json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        token = logs.REQUEST_ID.set("abc123")
        logger.warning("slow %s", "read")
        logs.REQUEST_ID.reset(token)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "slow read" and first["request_id"] == "abc123"
    assert first["level"] == "WARNING" and first["logger"] == "userdir.test_json"
    assert "request_id" not in second and "RuntimeError: boom" in second["exception"]


def test_an_unknown_log_format_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT='xml': allowed text or json"):
        logs.configure("INFO", "xml")


@pytest.mark.slow
def test_seeding_counts_reach_the_shared_metrics_directory(tmp_path: Path) -> None:
    """`userdir seed` run with the server's PROMETHEUS_MULTIPROC_DIR: its counts are in it."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    command = [sys.executable, "-m", "userdir.cli", "seed", "--from-file", str(GITHUB_USERS), "-q"]
    subprocess.run(command, env=env, check=True, timeout=120, capture_output=True)
    stored = len(json.loads(GITHUB_USERS.read_text()))
    registry = CollectorRegistry()
    # prometheus_client leaves this constructor unannotated; it registers the collector.
    collect_files: Callable[..., object] = MultiProcessCollector
    collect_files(registry, path=str(shared))
    page = samples(generate_latest(registry).decode())
    assert value(page, "userdir_seed_users_total", outcome="stored") == stored
    assert value(page, "userdir_seed_pages_total") >= 1
