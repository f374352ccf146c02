"""Who the client is: the peer, or behind trusted proxies (nginx), the address they forwarded.

Each proxy appends the address it got the request from to X-Forwarded-For. Reading from the
right, the first address that is not one of TRUSTED_PROXIES is the client: whatever a client
wrote into the header itself stands further left and is never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from userdir.keys import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[Network, ...]:
    """ "127.0.0.1, 10.0.0.0/8" -> networks; ValueError naming a bad entry."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()
    )


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request) -> str:
    peer = request.remote or ""
    networks = request.app[SETTINGS].trusted_proxies
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", ()))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # not an address: the proxy did not write it
    return peer
