"""Seeding throughput: users/s from a local fake GitHub API into SQLite and PostgreSQL.

The fake runs in its own process on 127.0.0.1 (so it does not share the seeder's core), with
no rate limit, serving USERS synthetic users 100 a page with Link headers, like GitHub.
Each run seeds into an empty table with the real seeding loop (`userdir.seed.seed_from_api`);
the figure is the median of RUNS runs. PostgreSQL gets a throwaway database, dropped after.

    .venv/bin/python bench/seed_bench.py [--users 100000] [--runs 3] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import orjson
import support
from aiohttp import web
from sqlalchemy import delete, text

from userdir.db import create_sessionmaker
from userdir.github import GitHubClient
from userdir.models import User
from userdir.progress import QuietProgress
from userdir.seed import SeedReport, create_seed_engine, seed_from_api

RUN_TIMEOUT = 300.0  # seconds: a run slower than this is a failure, not a figure


def synthetic_user(n: int) -> dict[str, object]:
    login = f"user{n:07d}"
    return {
        "login": login,
        "id": n,
        "node_id": f"MDQ6VXNlcj{n}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{n}?v=4",
        "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "followers_url": f"https://api.github.com/users/{login}/followers",
        "following_url": f"https://api.github.com/users/{login}/following{{/other_user}}",
        "gists_url": f"https://api.github.com/users/{login}/gists{{/gist_id}}",
        "starred_url": f"https://api.github.com/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"https://api.github.com/users/{login}/subscriptions",
        "organizations_url": f"https://api.github.com/users/{login}/orgs",
        "repos_url": f"https://api.github.com/users/{login}/repos",
        "events_url": f"https://api.github.com/users/{login}/events{{/privacy}}",
        "received_events_url": f"https://api.github.com/users/{login}/received_events",
        "type": "Organization" if n % 10 == 0 else "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def serve_fake(port: int, users: int) -> None:
    """The fake API process: ids 1..users, GitHub's paging, no rate limit."""

    async def list_users(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        per_page = min(100, int(request.query.get("per_page", "30")))
        last = min(users, since + per_page)
        body = orjson.dumps([synthetic_user(n) for n in range(since + 1, last + 1)])
        headers = {}
        if last < users:
            url = f"http://127.0.0.1:{port}/users?per_page={per_page}&since={last}"
            headers["Link"] = f'<{url}>; rel="next"'
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_get("/users", list_users)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


async def one_run(database_url: str, api_url: str, users: int) -> tuple[float, float]:
    """(users per wall-clock second, users per CPU second of the seeding process)."""
    engine = create_seed_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(User))
        sessionmaker = create_sessionmaker(engine)
        async with GitHubClient(api_url) as client:
            started, cpu = time.perf_counter(), time.process_time()
            report = await asyncio.wait_for(
                seed_from_api(
                    sessionmaker,
                    client,
                    total=users,
                    since=0,
                    progress=QuietProgress(),
                    report=SeedReport(),
                ),
                RUN_TIMEOUT,
            )
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one()
        if report.stored != users or count != users:
            raise SystemExit(f"stored {report.stored} (table: {count}), expected {users}")
        return users / elapsed, users / cpu
    finally:
        await engine.dispose()


async def bench_backend(
    backend: str, api_url: str, users: int, runs: int
) -> list[tuple[float, float]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await support.migrate(url)
            return [await one_run(url, api_url, users) for _ in range(runs)]
    async with support.database() as url:
        return [await one_run(url, api_url, users) for _ in range(runs)]


async def bench(users: int, runs: int, backends: list[str]) -> None:
    port = support.free_port()
    api_url = f"http://127.0.0.1:{port}"
    fake_args = [__file__, "--serve", str(port), "--users", str(users)]
    with support.running(fake_args, f"{api_url}/users?per_page=1") as fake:
        print(f"{users:,} users, {runs} runs each, fake API pid {fake.pid} on {api_url}")
        for backend in backends:
            results = await bench_backend(backend, api_url, users, runs)
            rates = [wall for wall, _ in results]
            runs_text = ", ".join(f"{r:,.0f}" for r in rates)
            median = statistics.median(rates)
            cpu = statistics.median(per_cpu for _, per_cpu in results)
            print(
                f"{backend:<11} median {median:>9,.0f} users/s   (runs: {runs_text}); "
                f"seeder alone: {cpu:,.0f} users per CPU-second"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--asyncio", action="store_true", help="plain asyncio (default: uvloop, as `userdir seed`)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_fake(args.serve, args.users)
        return
    if not args.asyncio:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(bench(args.users, args.runs, args.backends.split(",")))


if __name__ == "__main__":
    main()
