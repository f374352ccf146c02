"""Settings: the environment, parsed once at the edge into one frozen object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///userdir.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable and what is allowed."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 5005
    cache_ttl: int = 20
    cache_url: str = "memory://"
    cache_max_entries: int = 1024
    cache_prefix: str = "userdir"
    shutdown_timeout: float = 10.0
    max_depth: int = 8
    max_nested_nodes: int = 100_000
    api_tokens: tuple[str, ...] = field(default=(), repr=False)
    github_api_url: str = "https://api.github.com"
    github_tokens: tuple[str, ...] = field(default=(), repr=False)
    github_retries: int = 5
    cursor_secret: str = field(default="", repr=False)


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: allowed {low}..{high}")
    return value


def _tokens(raw: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (raw or "").split(",") if t.strip())


def _database_url(environ: Mapping[str, str]) -> str:
    raw = environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL") from None
    if url.drivername not in SUPPORTED_DRIVERS:
        allowed = ", ".join(f"{d}://..." for d in SUPPORTED_DRIVERS)
        raise ConfigError(f"DATABASE_URL uses {url.drivername!r}: allowed {allowed}")
    return raw


def _cache_url(environ: Mapping[str, str]) -> str:
    raw = environ.get("CACHE_URL") or "memory://"
    if raw != "memory://" and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"CACHE_URL={raw!r}: allowed memory:// or redis://host:port/db")
    return raw


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping (os.environ in production, a dict in tests)."""
    github_tokens = _tokens(environ.get("GITHUB_TOKENS")) or _tokens(environ.get("GITHUB_TOKEN"))
    return Settings(
        database_url=_database_url(environ),
        host=environ.get("HOST") or "127.0.0.1",
        port=_int(environ, "PORT", 5005, 0, 65535),
        cache_ttl=_int(environ, "CACHE_TTL", 20, 0, 86400),
        cache_url=_cache_url(environ),
        cache_max_entries=_int(environ, "CACHE_MAX_ENTRIES", 1024, 1, 10_000_000),
        cache_prefix=environ.get("CACHE_PREFIX") or "userdir",
        shutdown_timeout=float(_int(environ, "SHUTDOWN_TIMEOUT", 10, 0, 3600)),
        max_depth=_int(environ, "MAX_DEPTH", 8, 1, 64),
        max_nested_nodes=_int(environ, "MAX_NESTED_NODES", 100_000, 1, 100_000_000),
        api_tokens=_tokens(environ.get("USERDIR_API_TOKENS")),
        github_api_url=(environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        github_tokens=github_tokens,
        github_retries=_int(environ, "GITHUB_RETRIES", 5, 1, 100),
        cursor_secret=environ.get("CURSOR_SECRET", ""),
    )
