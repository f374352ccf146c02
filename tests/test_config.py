from __future__ import annotations

import subprocess
import sys

import pytest

from userdir.config import ConfigError, Settings, load_settings, usable_cpus


def test_defaults() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.database_url == "sqlite+aiosqlite:///userdir.db"
    assert (settings.host, settings.port, settings.cache_ttl) == ("127.0.0.1", 5005, 20)
    assert settings.api_tokens == ()
    assert (settings.workers, settings.keepalive_timeout, settings.max_connections) == (1, 15, 1000)


def test_every_variable_is_read() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql+asyncpg://app:secret@db:5432/userdir",
            "HOST": "0.0.0.0",
            "PORT": "8080",
            "CACHE_TTL": "5",
            "CACHE_URL": "redis://127.0.0.1:6379/1",
            "USERDIR_API_TOKENS": " a , b,,",
            "GITHUB_TOKENS": "t1,t2",
            "WORKERS": "3",
            "KEEPALIVE_TIMEOUT": "5",
            "MAX_CONNECTIONS": "50",
        }
    )
    assert (settings.workers, settings.keepalive_timeout, settings.max_connections) == (3, 5, 50)
    assert settings.database_url == "postgresql+asyncpg://app:secret@db:5432/userdir"
    assert (settings.host, settings.port, settings.cache_ttl) == ("0.0.0.0", 8080, 5)
    assert settings.cache_url == "redis://127.0.0.1:6379/1"
    assert settings.api_tokens == ("a", "b")
    assert settings.github_tokens == ("t1", "t2")
    assert "api_tokens" not in repr(settings)  # secrets stay out of logs


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
