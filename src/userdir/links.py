"""RFC 8288 Link headers for paged collections."""

from __future__ import annotations

from yarl import URL


def page_links(url: URL, page_number: int, page_size: int, total: int) -> str:
    """`Link` value with rel="next"/"prev" page-number links that keep the rest of the query."""
    links = []
    if page_number * page_size < total:
        links.append(f'<{url.update_query(page_number=page_number + 1)}>; rel="next"')
    if page_number > 1:
        last = max(1, -(-total // page_size))
        previous = min(page_number - 1, last)
        links.append(f'<{url.update_query(page_number=previous)}>; rel="prev"')
    return ", ".join(links)
