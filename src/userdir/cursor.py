"""Keyset cursors: the sort key of a row, signed and bound to the query that produced it.

A cursor is `base64url(json key) "." base64url(hmac)`. The HMAC covers the key and a
fingerprint of the query's filters and ordering, so a cursor edited by hand, cut short, or
carried over to another query fails verification and is answered 400 rather than silently
paging through something else. Forging one would grant nothing a filter cannot already do; the
signature is about clear errors, not secrecy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

import orjson

from userdir.directory import SortKey, SortTerm, Value

SIGNATURE_BYTES = 16


class CursorError(ValueError):
    """The cursor is malformed, tampered with, or belongs to another query."""


def derive_secret(configured: str, database_url: str) -> bytes:
    """CURSOR_SECRET when set; else one derived from the database URL.

    The fallback is the same in every process serving one database, so cursors survive
    restarts and load balancing across workers without configuration.
    """
    material = configured or f"userdir-cursor:{database_url}"
    return hashlib.sha256(material.encode()).digest()


def key_types(order_by: Sequence[SortTerm]) -> list[type]:
    """What each value of a sort key must be: ids are integers, the other fields text."""
    return [int if term.field == "id" else str for term in order_by]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, bound_to: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, bound_to + b"\n" + payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def encode_cursor(secret: bytes, bound_to: bytes, key: Sequence[Value]) -> str:
    payload = orjson.dumps(list(key))
    return f"{_b64(payload)}.{_b64(_sign(secret, bound_to, payload))}"


def decode_cursor(secret: bytes, bound_to: bytes, cursor: str, types: Sequence[type]) -> SortKey:
    """The sort key inside `cursor`, checked against the column types of the ordering."""
    body, dot, signature = cursor.partition(".")
    try:
        if not dot or not body.isascii() or not signature.isascii():
            raise ValueError
        payload, given = _unb64(body), _unb64(signature)
    except (ValueError, binascii.Error):
        raise CursorError("The cursor is malformed.") from None
    if not hmac.compare_digest(given, _sign(secret, bound_to, payload)):
        raise CursorError(
            "The cursor was altered or belongs to another query: follow the Link header "
            "without changing filters or order_by, or start again without a cursor."
        )
    try:
        key = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise CursorError("The cursor is malformed.") from None
    if not isinstance(key, list) or len(key) != len(types):
        raise CursorError("The cursor does not match the ordering.")
    for value, expected in zip(key, types, strict=True):
        # bool is an int in Python; no column of ours holds one.
        if type(value) is not expected:
            raise CursorError("The cursor does not match the ordering.")
    return tuple(key)
