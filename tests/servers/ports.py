"""Free TCP ports on 127.0.0.1 for private servers."""

from __future__ import annotations

import random
import socket

# Linux hands out ephemeral (client-side) ports from 32768 up: a server port taken from that
# range can be stolen by any outgoing connection between choosing it and binding it.
LOWEST = 20000
HIGHEST = 32767


def free_port(attempts: int = 50) -> int:
    """A port below 32768 that nothing listens on right now, checked by binding it."""
    for _ in range(attempts):
        port = random.randint(LOWEST, HIGHEST)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {LOWEST}-{HIGHEST} after {attempts} tries")
