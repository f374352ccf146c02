from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import asdict
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import pytest

from userdir import config
from userdir.config import ConfigError, Settings, load_settings, usable_cpus

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.database_url == "sqlite+aiosqlite:///userdir.db"
    assert (settings.host, settings.port, settings.cache_ttl) == ("127.0.0.1", 5005, 20)
    assert settings.api_tokens == ()
    assert (settings.workers, settings.keepalive_timeout, settings.max_connections) == (1, 15, 1000)


PG = "postgresql+asyncpg://app:secret@db:5432/userdir"
# Each variable config.py reads: (value, the setting it changes, what that becomes, and the
# other variables it needs). A variable read without a row here fails the test below.
CASES: dict[str, tuple[str, str, object, dict[str, str]]] = {
    "DATABASE_URL": (PG, "database_url", PG, {}),
    "HOST": ("0.0.0.0", "host", "0.0.0.0", {}),
    "PORT": ("8080", "port", 8080, {}),
    "DB_POOL_SIZE": ("7", "db_pool_size", 7, {}),
    "DB_POOL_OVERFLOW": ("3", "db_pool_overflow", 3, {}),
    "DB_POOL_TIMEOUT": ("1.5", "db_pool_timeout", 1.5, {}),
    "DB_CONNECT_TIMEOUT": ("2.5", "db_connect_timeout", 2.5, {}),
    "DB_STATEMENT_TIMEOUT": ("0", "db_statement_timeout", 0.0, {}),
    "DATABASE_LISTEN_URL": (
        "postgresql+asyncpg://app@direct/userdir",
        "database_listen_url",
        "postgresql+asyncpg://app@direct/userdir",
        {"DATABASE_URL": PG},
    ),
    "DB_PGBOUNCER": ("yes", "db_pgbouncer", True, {}),
    "VERSION_POLL_INTERVAL": ("0.5", "version_poll_interval", 0.5, {}),
    "DATABASE_REPLICA_URLS": (
        "postgresql+asyncpg://r1/u, postgresql+asyncpg://r2/u",
        "database_replica_urls",
        ("postgresql+asyncpg://r1/u", "postgresql+asyncpg://r2/u"),
        {"DATABASE_URL": PG},
    ),
    "REPLICA_MAX_LAG": ("9", "replica_max_lag", 9.0, {}),
    "REPLICA_CHECK_INTERVAL": ("0.25", "replica_check_interval", 0.25, {}),
    "CACHE_TTL": ("5", "cache_ttl", 5, {}),
    "CACHE_URL": ("redis://127.0.0.1:6379/1", "cache_url", "redis://127.0.0.1:6379/1", {}),
    "CACHE_MAX_BYTES": ("1024", "cache_max_bytes", 1024, {}),
    "CACHE_MAX_ENTRY_BYTES": ("512", "cache_max_entry_bytes", 512, {}),
    "CACHE_TIMEOUT": ("0.05", "cache_timeout", 0.05, {}),
    "CACHE_PREFIX": ("other", "cache_prefix", "other", {}),
    "REQUEST_TIMEOUT": ("4", "request_timeout", 4.0, {}),
    "RATE_LIMIT": (" 600/minute ", "rate_limit", "600/minute", {}),
    "SHUTDOWN_TIMEOUT": ("3", "shutdown_timeout", 3.0, {}),
    "WORKERS": ("3", "workers", 3, {}),
    "KEEPALIVE_TIMEOUT": ("5", "keepalive_timeout", 5.0, {}),
    "MAX_CONNECTIONS": ("50", "max_connections", 50, {}),
    "MAX_DEPTH": ("4", "max_depth", 4, {}),
    "MAX_NESTED_NODES": ("99", "max_nested_nodes", 99, {}),
    "USERDIR_API_TOKENS": (" a , b,,", "api_tokens", ("a", "b"), {}),
    "GITHUB_API_URL": ("http://127.0.0.1:9/", "github_api_url", "http://127.0.0.1:9", {}),
    "GITHUB_TOKEN": ("t0", "github_tokens", ("t0",), {}),
    "GITHUB_TOKENS": ("t1,t2", "github_tokens", ("t1", "t2"), {"GITHUB_TOKEN": "t0"}),
    "GITHUB_RETRIES": ("2", "github_retries", 2, {}),
    "CURSOR_SECRET": ("s3cret", "cursor_secret", "s3cret", {}),
    "TRUSTED_PROXIES": (
        "127.0.0.1, 10.0.0.0/8,::1",
        "trusted_proxies",
        (IPv4Network("127.0.0.1/32"), IPv4Network("10.0.0.0/8"), IPv6Network("::1/128")),
        {},
    ),
    "METRICS_TOKEN": (" m3trics ", "metrics_token", "m3trics", {}),
}
# Read by the command line rather than into Settings.
READ_ELSEWHERE = {"LOG_LEVEL", "LOG_FORMAT"}


def variables_read() -> set[str]:
    """Every variable name config.py passes to a reader of the environment."""
    source = Path(config.__file__).read_text()
    return set(re.findall(r'environ(?:\.get\(|, )"([A-Z][A-Z0-9_]*)"', source))


def variables_documented() -> set[str]:
    """Every variable named in the first column of a README table headed `Variable`."""
    names: set[str] = set()
    in_table = False
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if not cells:
            in_table = False
        elif cells[0] == "Variable":
            in_table = True
        elif in_table:
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]))
    return names


def test_every_variable_read_is_tested_and_documented() -> None:
    read = variables_read()
    assert len(read) >= 30  # the pattern still finds the readers
    assert sorted(read ^ CASES.keys()) == []
    assert sorted(variables_documented() ^ (read | READ_ELSEWHERE)) == []


@pytest.mark.parametrize("variable", sorted(CASES))
def test_each_variable_sets_its_setting(variable: str) -> None:
    raw, name, value, needs = CASES[variable]
    before = asdict(load_settings(needs))
    after = asdict(load_settings({**needs, variable: raw}))
    changed = {key: after[key] for key in after if after[key] != before[key]}
    assert changed == {name: value}


def test_secrets_stay_out_of_logs() -> None:
    settings = load_settings(
        {
            "USERDIR_API_TOKENS": "a",
            "GITHUB_TOKENS": "t1",
            "CURSOR_SECRET": "s3cret",
            "METRICS_TOKEN": "m3trics",
            "DATABASE_REPLICA_URLS": "postgresql+asyncpg://u:pw@r1/u",
            "DATABASE_URL": PG,
        }
    )
    for secret in ("api_tokens", "github_tokens", "s3cret", "pw@r1", "m3trics"):
        assert secret not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORT": "http"}, "PORT='http' is not an integer"),
        ({"PORT": "70000"}, "PORT=70000 is out of range: allowed 0..65535"),
        ({"CACHE_TTL": "-1"}, "CACHE_TTL=-1 is out of range: allowed 0..86400"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL uses 'mysql'"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        ({"CACHE_URL": "memcached://x"}, "CACHE_URL='memcached://x': allowed"),
        ({"WORKERS": "many"}, "WORKERS='many' is not an integer; or auto (one per usable CPU)"),
        ({"WORKERS": "0"}, "WORKERS=0 is out of range: allowed 1..1024; or auto"),
        ({"KEEPALIVE_TIMEOUT": "0"}, "KEEPALIVE_TIMEOUT=0 is out of range: allowed 1..3600"),
        ({"MAX_CONNECTIONS": "0"}, "MAX_CONNECTIONS=0 is out of range: allowed 1..100000"),
    ],
)
def test_invalid_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ)
    assert message in str(info.value)


def test_workers_auto_is_one_per_usable_cpu() -> None:
    assert load_settings({"WORKERS": "auto"}).workers == usable_cpus() >= 1
    assert load_settings({"WORKERS": " AUTO "}).workers == usable_cpus()


def test_cli_reports_bad_configuration_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "userdir.cli", "db", "upgrade"],
        env={"PORT": "nope", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "userdir: configuration error: PORT='nope' is not an integer\n"
    assert "Traceback" not in result.stdout + result.stderr
