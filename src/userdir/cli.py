"""The `userdir` command: serve, migrate, reset, seed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from userdir import logs, migrations, workers
from userdir.app import create_app
from userdir.config import ConfigError, Settings, load_settings
from userdir.db import censored, create_engine, create_sessionmaker
from userdir.sample import load_sample_data
from userdir.seed import SeedError
from userdir.seed_cli import run_seed
from userdir.server import serve

log = logging.getLogger("userdir")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="userdir", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="serve the HTTP API")
    serve_cmd.add_argument("--host", help="interface to bind (default: $HOST or 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, help="port (default: $PORT or 5005)")
    serve_cmd.add_argument(
        "--reset-db",
        action="store_true",
        help="drop everything, migrate and load the bundled sample data first",
    )
    serve_cmd.add_argument(
        "--workers",
        metavar="N",
        help="processes serving the port: a number, or auto for one per usable CPU"
        " (default: $WORKERS or 1)",
    )
    # A worker started by the supervisor: the inherited listening socket and its channel.
    serve_cmd.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    serve_cmd.add_argument("--supervisor-fd", type=int, help=argparse.SUPPRESS)

    db_cmd = commands.add_parser("db", help="manage the database schema")
    db_commands = db_cmd.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations up to the newest")
    db_commands.add_parser("reset", help="drop everything, migrate, load the sample data")

    seed_cmd = commands.add_parser("seed", help="store GitHub users (from the API or a file)")
    seed_cmd.add_argument(
        "-t", "--total", type=_positive, help="users to read from the API (default: 25)"
    )
    seed_cmd.add_argument(
        "--since", type=_not_negative, help="start after this id (default: the highest stored)"
    )
    seed_cmd.add_argument(
        "--from-file", type=Path, metavar="PATH", help="load a JSON array in GitHub's format"
    )
    seed_cmd.add_argument(
        "--no-wait",
        action="store_true",
        help="stop instead of waiting when the rate limit is spent",
    )
    seed_cmd.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    return parser


def _positive(raw: str) -> int:
    value = _not_negative(raw)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _not_negative(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def seed(args: argparse.Namespace, settings: Settings) -> None:
    if args.from_file is not None and (args.total is not None or args.since is not None):
        raise SeedError("--from-file loads the whole file: it takes neither --total nor --since")
    # A line per request would drown the progress display; failures are reported anyway.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.quiet:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    with asyncio.Runner(loop_factory=_uvloop_factory()) as runner:
        report = runner.run(
            run_seed(
                settings,
                total=args.total or 25,
                since=args.since,
                from_file=args.from_file,
                wait=not args.no_wait,
                quiet=args.quiet,
            )
        )
    if not args.quiet:
        print(f"userdir: seed done: {report.summary()}", file=sys.stderr)


async def reset_database(settings: Settings) -> None:
    engine = create_engine(settings.database_url, pgbouncer=settings.db_pgbouncer)
    try:
        await migrations.reset(engine)
        async with create_sessionmaker(engine).begin() as session:
            await load_sample_data(session)
    finally:
        await engine.dispose()
    log.info("database reset and sample data loaded: %s", censored(settings.database_url))


async def upgrade_database(settings: Settings) -> None:
    engine = create_engine(settings.database_url, pgbouncer=settings.db_pgbouncer)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    log.info("database migrated to head: %s", censored(settings.database_url))


async def run_server(settings: Settings, reset: bool) -> None:
    if reset:
        await reset_database(settings)
    await serve(
        create_app(settings),
        settings.host,
        settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        keepalive_timeout=settings.keepalive_timeout,
        max_connections=settings.max_connections,
    )


def run_serve(args: argparse.Namespace) -> int:
    overrides = {
        "HOST": args.host,
        "PORT": None if args.port is None else str(args.port),
        "WORKERS": args.workers,
    }
    settings = load_settings({**os.environ, **{k: v for k, v in overrides.items() if v}})
    if args.listen_fd is not None and args.supervisor_fd is not None:  # one of several workers
        _log_with_pid()
        _event_loop_policy()
        asyncio.run(workers.run_worker(settings, args.listen_fd, args.supervisor_fd))
        return 0
    if settings.workers == 1:
        _event_loop_policy()
        asyncio.run(run_server(settings, args.reset_db))
        return 0
    _log_with_pid()
    if args.reset_db:  # once, before any worker reads the database
        asyncio.run(reset_database(settings))
    return workers.supervise(settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        return run_serve(args)
    if args.command == "seed":
        seed(args, settings)
    elif args.db_command == "upgrade":
        asyncio.run(upgrade_database(settings))
    else:
        asyncio.run(reset_database(settings))
    return 0


def _log_with_pid() -> None:
    _configure_logs(with_pid=True)


def _configure_logs(*, with_pid: bool = False) -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logs.configure(level, (os.environ.get("LOG_FORMAT") or "text").lower(), with_pid=with_pid)


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # uvloop is optional off Linux/macOS
        return None
    return uvloop.new_event_loop


def _event_loop_policy() -> None:
    try:
        import uvloop
    except ImportError:  # uvloop is optional off Linux/macOS
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _configure_logs()
    except ValueError as exc:
        print(f"userdir: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        settings = load_settings(os.environ)
        code = _run(args, settings)
    except SeedError as exc:
        print(f"userdir: seed stopped: {exc}", file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"userdir: configuration error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError) as exc:
        print(f"userdir: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
