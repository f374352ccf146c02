"""Settings: the environment, parsed once at the edge into one frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import limits
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from userdir.clients import Network, parse_networks

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///userdir.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable and what is allowed."""


MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 5005
    # Database faults: waits are bounded so a request fails over to a 503, never hangs.
    # A fixed pool: overflow connections are closed as soon as they are returned, so under a
    # steady load above the pool they are opened again and again (a TLS offer, a login, type
    # introspection each time). DB_POOL_OVERFLOW allows them for bursts.
    db_pool_size: int = 20
    db_pool_overflow: int = 0
    db_pool_timeout: float = 3.0
    db_connect_timeout: float = 3.0
    db_statement_timeout: float = 5.0  # reads only; 0 = none
    # Where LISTEN/NOTIFY runs (a session is needed: not a transaction-pooling PgBouncer).
    database_listen_url: str = ""
    # Through PgBouncer in transaction pooling mode: no prepared statement outlives a transaction.
    db_pgbouncer: bool = False
    version_poll_interval: float = 0.05  # SQLite: how often other processes' writes are read
    database_replica_urls: tuple[str, ...] = field(default=(), repr=False)
    replica_max_lag: float = 5.0  # seconds; a replica further behind is skipped
    replica_check_interval: float = 1.0
    cache_ttl: int = 20
    cache_url: str = "memory://"
    cache_max_bytes: int = 256 * MIB
    cache_max_entry_bytes: int = 8 * MIB
    cache_timeout: float = 0.2
    cache_prefix: str = "userdir"
    request_timeout: float = 30.0
    rate_limit: str = ""  # e.g. "600/minute" per client; empty: no limit
    shutdown_timeout: float = 10.0
    workers: int = 1
    keepalive_timeout: float = 15.0
    max_connections: int = 1000
    max_depth: int = 8
    max_nested_nodes: int = 100_000
    api_tokens: tuple[str, ...] = field(default=(), repr=False)
    github_api_url: str = "https://api.github.com"
    github_tokens: tuple[str, ...] = field(default=(), repr=False)
    github_retries: int = 5
    cursor_secret: str = field(default="", repr=False)
    # Proxies (nginx) whose X-Forwarded-For names the client (userdir.clients); none: the peer.
    trusted_proxies: tuple[Network, ...] = ()
    metrics_token: str = field(default="", repr=False)  # GET /metrics; empty: no such route


Number = TypeVar("Number", int, float)
_KINDS = {int: "an integer", float: "a number"}


def _number(
    environ: Mapping[str, str], name: str, default: Number, low: Number, high: Number
) -> Number:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {_KINDS[kind]}") from None
    if not low <= value <= high:  # also refuses nan
        raise ConfigError(f"{name}={value:g} is out of range: allowed {low:g}..{high:g}")
    return value


def _bool(environ: Mapping[str, str], name: str) -> bool:
    raw = (environ.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r}: allowed true or false (also 1/0, yes/no, on/off)")


def _tokens(raw: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (raw or "").split(",") if t.strip())


def _database_url(raw: str, name: str = "DATABASE_URL") -> str:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"{name} is not a database URL") from None
    if url.drivername not in SUPPORTED_DRIVERS:
        allowed = ", ".join(f"{d}://..." for d in SUPPORTED_DRIVERS)
        raise ConfigError(f"{name} uses {url.drivername!r}: allowed {allowed}")
    return raw


def _listen_url(environ: Mapping[str, str], database_url: str) -> str:
    raw = environ.get("DATABASE_LISTEN_URL") or ""
    if not raw:
        return ""
    _database_url(raw, "DATABASE_LISTEN_URL")
    if make_url(raw).get_backend_name() != make_url(database_url).get_backend_name():
        raise ConfigError("DATABASE_LISTEN_URL must name the same kind of database as DATABASE_URL")
    return raw


def _replica_urls(environ: Mapping[str, str], database_url: str) -> tuple[str, ...]:
    urls = _tokens(environ.get("DATABASE_REPLICA_URLS"))
    for url in urls:
        _database_url(url, "DATABASE_REPLICA_URLS")
        if make_url(url).get_backend_name() != "postgresql" or (
            make_url(database_url).get_backend_name() != "postgresql"
        ):
            raise ConfigError("DATABASE_REPLICA_URLS: read replicas are PostgreSQL servers")
    return urls


def _rate_limit(environ: Mapping[str, str]) -> str:
    raw = (environ.get("RATE_LIMIT") or "").strip()
    if raw:
        try:
            limits.parse(raw)
        except ValueError:
            raise ConfigError(
                f"RATE_LIMIT={raw!r}: allowed N/second, N/minute, N/hour or N/day (e.g. 600/minute)"
            ) from None
    return raw


def _cache_url(environ: Mapping[str, str]) -> str:
    raw = environ.get("CACHE_URL") or "memory://"
    if raw != "memory://" and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"CACHE_URL={raw!r}: allowed memory:// or redis://host:port/db")
    return raw


def _trusted_proxies(environ: Mapping[str, str]) -> tuple[Network, ...]:
    raw = environ.get("TRUSTED_PROXIES") or ""
    try:
        return parse_networks(raw)
    except ValueError as exc:
        raise ConfigError(
            f"TRUSTED_PROXIES={raw!r}: {exc}; allowed addresses or networks, comma-separated"
            " (e.g. 127.0.0.1,10.0.0.0/8)"
        ) from None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers often narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _workers(environ: Mapping[str, str]) -> int:
    raw = environ.get("WORKERS")
    if raw is not None and raw.strip().lower() == "auto":
        return usable_cpus()
    try:
        return _number(environ, "WORKERS", 1, 1, 1024)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; or auto (one per usable CPU)") from None


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping (os.environ in production, a dict in tests)."""
    github_tokens = _tokens(environ.get("GITHUB_TOKENS")) or _tokens(environ.get("GITHUB_TOKEN"))
    database_url = _database_url(environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    return Settings(
        database_url=database_url,
        host=environ.get("HOST") or "127.0.0.1",
        port=_number(environ, "PORT", 5005, 0, 65535),
        db_pool_size=_number(environ, "DB_POOL_SIZE", 20, 1, 1000),
        db_pool_overflow=_number(environ, "DB_POOL_OVERFLOW", 0, 0, 1000),
        db_pool_timeout=_number(environ, "DB_POOL_TIMEOUT", 3.0, 0.01, 300),
        db_connect_timeout=_number(environ, "DB_CONNECT_TIMEOUT", 3.0, 0.01, 300),
        db_statement_timeout=_number(environ, "DB_STATEMENT_TIMEOUT", 5.0, 0, 3600),
        database_listen_url=_listen_url(environ, database_url),
        db_pgbouncer=_bool(environ, "DB_PGBOUNCER"),
        version_poll_interval=_number(environ, "VERSION_POLL_INTERVAL", 0.05, 0.001, 60),
        database_replica_urls=_replica_urls(environ, database_url),
        replica_max_lag=_number(environ, "REPLICA_MAX_LAG", 5.0, 0, 86400),
        replica_check_interval=_number(environ, "REPLICA_CHECK_INTERVAL", 1.0, 0.01, 3600),
        cache_ttl=_number(environ, "CACHE_TTL", 20, 0, 86400),
        cache_url=_cache_url(environ),
        cache_max_bytes=_number(environ, "CACHE_MAX_BYTES", 256 * MIB, 0, 2**40),
        cache_max_entry_bytes=_number(environ, "CACHE_MAX_ENTRY_BYTES", 8 * MIB, 0, 2**32),
        cache_timeout=_number(environ, "CACHE_TIMEOUT", 0.2, 0.001, 60),
        cache_prefix=environ.get("CACHE_PREFIX") or "userdir",
        request_timeout=_number(environ, "REQUEST_TIMEOUT", 30.0, 0.01, 3600),
        rate_limit=_rate_limit(environ),
        shutdown_timeout=float(_number(environ, "SHUTDOWN_TIMEOUT", 10, 0, 3600)),
        workers=_workers(environ),
        # 0 would switch aiohttp's timer off, leaving idle and slow-header connections unbounded.
        keepalive_timeout=_number(environ, "KEEPALIVE_TIMEOUT", 15.0, 1.0, 3600.0),
        max_connections=_number(environ, "MAX_CONNECTIONS", 1000, 1, 100_000),
        max_depth=_number(environ, "MAX_DEPTH", 8, 1, 64),
        max_nested_nodes=_number(environ, "MAX_NESTED_NODES", 100_000, 1, 100_000_000),
        api_tokens=_tokens(environ.get("USERDIR_API_TOKENS")),
        github_api_url=(environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        github_tokens=github_tokens,
        github_retries=_number(environ, "GITHUB_RETRIES", 5, 1, 100),
        cursor_secret=environ.get("CURSOR_SECRET", ""),
        trusted_proxies=_trusted_proxies(environ),
        metrics_token=(environ.get("METRICS_TOKEN") or "").strip(),
    )
