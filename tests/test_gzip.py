"""gzip for clients that accept it: any decoder reads the bytes, the coded variant has its own
ETag, it is coded once and then served from the cache, and small bodies stay as they are."""

from __future__ import annotations

import gzip

import pytest

from tests.helpers import AppClient
from tests.user_rows import user_rows
from userdir.cached import GZIP_MIN_BYTES

ROWS = user_rows()
PAGE = "/users?pagination=50"
GZIP = {"Accept-Encoding": "gzip, deflate"}


pytestmark = pytest.mark.usefixtures("rows")


async def test_a_coded_page_decodes_to_the_plain_one_and_is_coded_once(client: AppClient) -> None:
    async with client.get(PAGE, headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers
        plain, plain_etag = await response.read(), response.headers["ETag"]
    assert len(plain) >= GZIP_MIN_BYTES
    bodies = []
    for _ in range(2):
        async with client.get(PAGE, headers=GZIP, auto_decompress=False) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert response.headers["Vary"] == "Accept, Accept-Encoding"
            coded_etag = response.headers["ETag"]
            bodies.append((response.headers["X-Cache"], await response.read()))
    assert [state for state, _ in bodies] == ["HIT", "HIT"]  # the plain request filled it
    assert bodies[0][1] == bodies[1][1]  # stored once coded, not coded again
    assert gzip.decompress(bodies[0][1]) == plain  # the standard library's decoder reads it
    assert len(bodies[0][1]) < len(plain) / 3
    assert coded_etag == plain_etag[:-1] + '-gzip"'
    async with client.get(PAGE, headers={**GZIP, "If-None-Match": coded_etag}) as response:
        assert response.status == 304
        assert response.headers["ETag"] == coded_etag


async def test_a_miss_is_coded_too(client: AppClient) -> None:
    async with client.get(PAGE + "&order_by=username", headers=GZIP, auto_decompress=False) as r:
        assert r.headers["X-Cache"] == "MISS"
        assert r.headers["Content-Encoding"] == "gzip"
        coded = await r.read()
    async with client.get(PAGE + "&order_by=username") as response:
        assert gzip.decompress(coded) == await response.read()


@pytest.mark.parametrize(
    ("path", "accept_encoding"),
    [
        ("/users?pagination=1", "gzip"),  # under GZIP_MIN_BYTES: not worth coding
        (PAGE, "gzip;q=0, identity"),  # refused by the client
        (PAGE, "br"),  # not offered
    ],
)
async def test_bodies_stay_plain_when_coding_is_not_worth_it_or_not_accepted(
    client: AppClient, path: str, accept_encoding: str
) -> None:
    headers = {"Accept-Encoding": accept_encoding}
    async with client.get(path, headers=headers, auto_decompress=False) as response:
        assert response.status == 200
        assert "Content-Encoding" not in response.headers
        assert not response.headers["ETag"].endswith('-gzip"')
