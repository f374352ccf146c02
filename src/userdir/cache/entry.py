"""A cached response as it goes to the socket: status, headers and the encoded body, and the
body gzip-coded once a client has asked for that.

The in-process cache keeps `Entry` objects as they are; Redis keeps `to_bytes()`: a one-line
JSON head (status, headers, body length) and the bodies after it, untouched, so a hit never
decodes or re-encodes a body.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

Headers = tuple[tuple[str, str], ...]
# What a Python object, its tuples and strings cost beyond the bytes they hold (sys.getsizeof
# of an entry with a few headers); counted so that many tiny entries still fill the bound.
OVERHEAD_BYTES = 512


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    headers: Headers
    body: bytes
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        bodies = len(self.body) + len(self.gzipped or b"")
        return bodies + sum(len(k) + len(v) for k, v in self.headers) + OVERHEAD_BYTES

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    def to_bytes(self) -> bytes:
        # orjson escapes every newline inside strings, so the first b"\n" ends the head.
        head = orjson.dumps([self.status, self.headers, len(self.body), self.gzipped is not None])
        return b"".join((head, b"\n", self.body, self.gzipped or b""))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Entry:
        end = raw.index(b"\n")
        status, headers, length, coded = orjson.loads(raw[:end])
        start = end + 1
        body = raw[start : start + length]
        if len(body) != length:
            raise ValueError("truncated cache entry")
        headers = tuple((str(k), str(v)) for k, v in headers)
        return cls(int(status), headers, body, raw[start + length :] if coded else None)
