"""The client's address: the peer, or behind trusted proxies what they forwarded."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from userdir.clients import client_address
from userdir.config import ConfigError, load_settings
from userdir.keys import SETTINGS


def _request(peer: str, trusted: str, *forwarded: str) -> web.Request:
    app = web.Application()
    app[SETTINGS] = load_settings({"TRUSTED_PROXIES": trusted})
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded)
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 40000)
    return make_mocked_request("GET", "/users", headers=headers, app=app, transport=transport)


@pytest.mark.parametrize(
    ("peer", "trusted", "forwarded", "client"),
    [
        ("203.0.113.9", "", ["198.51.100.1"], "203.0.113.9"),  # no proxy trusted: the peer
        ("203.0.113.9", "127.0.0.1", ["198.51.100.1"], "203.0.113.9"),  # an untrusted peer
        ("127.0.0.1", "127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        # What the client wrote itself stands left of what nginx appended: never believed.
        ("127.0.0.1", "127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # Two proxies: the load balancer (10.0.0.0/8) before nginx.
        ("127.0.0.1", "127.0.0.1,10.0.0.0/8", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),
        ("127.0.0.1", "127.0.0.1", ["198.51.100.1", "10.1.2.3"], "10.1.2.3"),  # two headers
        ("127.0.0.1", "127.0.0.1", ["not-an-address"], "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1", [], "127.0.0.1"),
        ("::1", "::1", ["2001:db8::1"], "2001:db8::1"),
    ],
)
def test_client_address(peer: str, trusted: str, forwarded: list[str], client: str) -> None:
    assert client_address(_request(peer, trusted, *forwarded)) == client


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES='nginx'"):
        load_settings({"TRUSTED_PROXIES": "nginx"})
    assert [
        str(n) for n in load_settings({"TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).trusted_proxies
    ] == [
        "10.0.0.0/8",
        "::1/128",
    ]
