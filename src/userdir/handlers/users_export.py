"""The users directory as CSV, streamed row batch by row batch."""

from __future__ import annotations

import csv
import io
import logging

from aiohttp import web

from userdir.conditional import VARY
from userdir.db import reader
from userdir.directory import USER_FIELDS, UsersQuery
from userdir.errors import start_stream
from userdir.queries import users as queries

log = logging.getLogger(__name__)
FLUSH_ROWS = 500
# A spreadsheet would run a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


async def export_csv(request: web.Request, query: UsersQuery) -> web.StreamResponse:
    """Every row matching the filters, in order (from `after` on); paging does not apply.

    Not cached and never held in memory whole: the rows come through a server-side cursor.
    """
    response = web.StreamResponse(
        headers={
            "Content-Disposition": 'attachment; filename="users.csv"',
            "Cache-Control": "no-store",
            "Vary": VARY,
        }
    )
    response.content_type = "text/csv"
    response.charset = "utf-8"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(USER_FIELDS)
    async with reader(request) as snapshot:
        rows = aiter(queries.stream(snapshot.session, query))
        # The query runs before the headers go out, so a failure is still an ordinary error
        # response rather than a cut-off download.
        first = await anext(rows, None)
        await start_stream(request, response)
        pending = 0
        if first is not None:
            writer.writerow([_cell(getattr(first, name)) for name in USER_FIELDS])
        async for user in rows:
            writer.writerow([_cell(getattr(user, name)) for name in USER_FIELDS])
            pending += 1
            if pending >= FLUSH_ROWS:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
                pending = 0
        await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response
