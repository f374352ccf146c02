"""`userdir seed` from the command line: one clear line on failure, --from-file offline."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fake_github import github_users, running_fake
from tests.helpers import eventually
from tests.test_seed import stored, table
from userdir import cli
from userdir.progress import LogProgress, RichProgress, choose_progress

BUNDLED = str(resources.files("userdir").joinpath("data/github-users.json"))


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GITHUB_RETRIES", "1")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_TOKENS", raising=False)


async def main(*argv: str) -> int:
    # The command runs its own event loop, so it runs in a thread beside the test's.
    return await asyncio.to_thread(cli.main, list(argv))


@pytest.mark.usefixtures("environ")
async def test_unreachable_api_is_one_line_suggesting_from_file(
    sessionmaker: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await main("seed", "--quiet") == 1
    assert capsys.readouterr().err == (
        "userdir: seed stopped: cannot reach http://127.0.0.1:9/users?since=0&per_page=25 "
        "(ConnectError: All connection attempts failed); to seed without the network, use "
        "--from-file PATH (a JSON array of GitHub users); stored 0 users in 0 pages, "
        "run again to resume\n"
    )
    assert await table(sessionmaker) == []


@pytest.mark.usefixtures("environ")
async def test_from_file_loads_the_bundled_snapshot(
    sessionmaker: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await main("seed", "--from-file", BUNDLED) == 0
    assert await table(sessionmaker) == stored(github_users())
    assert capsys.readouterr().err.endswith(
        "userdir: seed done: stored 1500 users in 2 pages, last id 2526\n"
    )
    assert await main("seed", "--from-file", BUNDLED, "-q") == 0  # again: nothing doubles
    assert await table(sessionmaker) == stored(github_users())
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("environ")
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        (b"[{", "{path} is not valid JSON: unexpected end of data: line 1 column 3 (char 2)"),
        (b'{"id": 1}', "{path} must hold a JSON array of GitHub users, not dict"),
    ],
)
async def test_from_file_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    message: str,
) -> None:
    path = tmp_path / "users.json"
    if content is not None:
        path.write_bytes(content)
    assert await main("seed", "--from-file", str(path)) == 1
    assert capsys.readouterr().err == f"userdir: seed stopped: {message.format(path=path)}\n"


@pytest.mark.usefixtures("environ")
async def test_from_file_skips_malformed_records(
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "users.json"
    path.write_text(
        '[{"id": 1, "login": "a", "type": "User", "avatar_url": "x", "html_url": "y"},'
        ' {"id": "two"}, {"id": 3, "login": "c", "type": "User", "avatar_url": "x", '
        '"html_url": "z"}]'
    )
    assert await main("seed", "--from-file", str(path), "-q") == 0
    assert [r["id"] for r in await table(sessionmaker)] == [1, 3]
    assert caplog.messages == [
        f"skipped record 2 (id 'two') of {path}: avatar_url: Missing data for required field.; "
        "html_url: Missing data for required field.; id: Not a valid integer.; "
        "login: Missing data for required field.; type: Missing data for required field."
    ]


@pytest.mark.usefixtures("environ")
@pytest.mark.parametrize("option", [["--total", "5"], ["--since", "0"]])
async def test_from_file_takes_no_total_or_since(
    capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    assert await main("seed", "--from-file", BUNDLED, *option) == 1
    assert capsys.readouterr().err == (
        "userdir: seed stopped: --from-file loads the whole file: "
        "it takes neither --total nor --since\n"
    )


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["seed", "-t", "0"], "argument -t/--total: must be at least 1"),
        (["seed", "--since", "-1"], "argument --since: must not be negative"),
        (["seed", "--total", "many"], "argument -t/--total: 'many' is not an integer"),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], error: str) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2
    assert capsys.readouterr().err.endswith(f"userdir seed: error: {error}\n")


def test_plain_progress_lines_are_periodic(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    progress = LogProgress(interval=5, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="userdir.seed"):
        progress.start(300, "http://127.0.0.1:9")
        for _ in range(3):
            now[0] += 2
            progress.advance(100, 7)
        progress.waiting(65, "GitHub asked to slow down (429)")
    assert caplog.messages == [
        "seeding 300 users from http://127.0.0.1:9",
        "seeded 300/300 users (50 users/s), last id 7",
        "GitHub asked to slow down (429): waiting 1m 05s",
    ]


def test_progress_choice() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert type(choose_progress(True)).__name__ == "QuietProgress"
    assert isinstance(choose_progress(False, io.StringIO()), LogProgress)
    assert isinstance(choose_progress(False, Tty()), RichProgress)


def test_rich_progress_shows_count_waits_and_warnings() -> None:
    out = io.StringIO()
    progress = RichProgress(out)
    progress.start(200, "http://127.0.0.1:9")
    progress.advance(100, 100)
    progress.waiting(30, "GitHub rate limit spent [core]")
    progress.warn("skipped record 1 [x]")
    progress.close()
    text = out.getvalue()
    assert "100/200" in text
    assert "GitHub rate limit spent [core]: 30s" in text
    assert "warning: skipped record 1 [x]" in text


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
async def test_a_signal_stops_the_seed_process_with_its_exit_status(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    sig: signal.Signals,
    status: int,
) -> None:
    """The real command against the fake API: the first page is stored, the second hangs
    unanswered, and the signal ends the run with the shell's status for it."""
    raw = github_users()
    async with running_fake(raw) as fake:
        fake.hold_after = 1
        environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_TOKEN")}
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "userdir.cli", "seed", "--total", "300", "--quiet"),
            env={**environ, "DATABASE_URL": database_url, "GITHUB_API_URL": fake.url},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:

            async def first_page_stored() -> bool:
                return len(await table(sessionmaker)) == 100

            await eventually(first_page_stored, within=60)
            await asyncio.wait_for(fake.served.wait(), 30)  # the second page is asked for
            process.send_signal(sig)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == status
    assert stderr.decode() == (
        f"userdir: seed stopped: interrupted by {sig.name}; stored 100 users in 1 pages, "
        f"last id {raw[99]['id']}, run again to resume\n"
    )
    assert stdout == b""
    assert await table(sessionmaker) == stored(raw[:100])
