"""Page navigation for the users directory: signed cursors, links and count headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from userdir.cursor import CursorError, decode_cursor, derive_secret, encode_cursor, fingerprint
from userdir.errors import BadRequest
from userdir.keys import SETTINGS
from userdir.links import page_links
from userdir.queries.user_filters import key_types, sort_key
from userdir.queries.users import Count, Page

Key = list[Any]


@dataclass(frozen=True, slots=True)
class Cursors:
    """Signs and reads the cursors of one query (its filters and ordering)."""

    secret: bytes
    bound_to: bytes
    order_by: list[str]

    @classmethod
    def for_query(cls, request: web.Request, params: Mapping[str, Any]) -> Cursors:
        settings = request.app[SETTINGS]
        secret = derive_secret(settings.cursor_secret, settings.database_url)
        bound_to = fingerprint(params["filters"], params["order_by"])
        return cls(secret, bound_to, params["order_by"])

    def encode(self, row: Any) -> str:
        return encode_cursor(self.secret, self.bound_to, sort_key(row, self.order_by))

    def decode(self, parameter: str, cursor: str) -> Key:
        try:
            return decode_cursor(self.secret, self.bound_to, cursor, key_types(self.order_by))
        except CursorError as exc:
            raise BadRequest(
                "The query string has invalid parameters.",
                errors=[{"parameter": parameter, "detail": str(exc)}],
            ) from None

    def position(self, params: Mapping[str, Any]) -> tuple[Key | None, Key | None]:
        """The decoded `after` and `before` keys (at most one is given)."""
        after, before = params.get("after"), params.get("before")
        return (
            None if after is None else self.decode("after", after),
            None if before is None else self.decode("before", before),
        )


def links_for(
    url: URL, params: Mapping[str, Any], page: Page, count: Count | None, cursors: Cursors
) -> dict[str, URL]:
    rows = page.rows
    backwards = "before" in params
    has_next = bool(rows) and (backwards or page.more)
    has_prev = bool(rows) and (page.more if backwards else "after" in params)
    prev_page = None
    number = params["page_number"]
    if not has_prev and number > 1 and "after" not in params and not backwards:
        last = number - 1
        if count is not None:
            last = max(1, -(-count.value // params["pagination"]))
        prev_page = min(number - 1, last)
    return page_links(
        url,
        next_cursor=cursors.encode(rows[-1]) if has_next else None,
        prev_cursor=cursors.encode(rows[0]) if has_prev else None,
        prev_page=prev_page,
    )


def count_headers(count: Count | None) -> dict[str, str]:
    if count is None:
        return {}
    kind = "exact" if count.exact else "estimated"
    return {"X-Total-Count": str(count.value), "X-Total-Count-Kind": kind}
