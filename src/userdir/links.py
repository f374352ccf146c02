"""RFC 8288 Link headers for paged collections."""

from __future__ import annotations

from collections.abc import Mapping

from yarl import URL

PAGING_PARAMETERS = ("after", "before", "page_number")


def page_links(
    url: URL,
    *,
    next_cursor: str | None,
    prev_cursor: str | None = None,
    prev_page: int | None = None,
) -> dict[str, URL]:
    """next/prev/first links that keep every other parameter of the query.

    next always travels by cursor (`after`), so deep pages cost what the second one does;
    prev goes back by cursor (`before`) after a cursor step, or by page number.
    """
    base = url.without_query_params(*PAGING_PARAMETERS)
    links: dict[str, URL] = {}
    if next_cursor is not None:
        links["next"] = base.update_query(after=next_cursor)
    if prev_cursor is not None:
        links["prev"] = base.update_query(before=prev_cursor)
    elif prev_page is not None:
        links["prev"] = base.update_query(page_number=prev_page)
    links["first"] = base
    return links


def number_links(url: URL, page_number: int, page_size: int, total: int) -> dict[str, URL]:
    """next/prev links by page number, for small collections paged by OFFSET."""
    links: dict[str, URL] = {}
    if page_number * page_size < total:
        links["next"] = url.update_query(page_number=page_number + 1)
    if page_number > 1:
        prev = min(page_number - 1, last_page(total, page_size))
        links["prev"] = url.update_query(page_number=prev)
    return links


def last_page(total: int, page_size: int) -> int:
    """The number of the last page of `total` rows (1 when there are none)."""
    return max(1, -(-total // page_size))


def link_header(links: Mapping[str, URL]) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
