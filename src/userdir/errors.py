"""One error envelope: RFC 9457 problem details, produced by one middleware."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import ClassVar

import orjson
from aiohttp import web

from userdir import logs
from userdir.db.faults import DATABASE_FAULTS, is_retryable, is_unavailable
from userdir.keys import DATABASE, DEADLINES

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("request_id", str)
RETRIED = web.RequestKey("retried", bool)
STREAMING = web.RequestKey("streaming", bool)
RETRY_AFTER_SECONDS = 1
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SEQUENCE = itertools.count(1)


class _Prefix:
    """A random prefix per process, drawn again in a forked child so ids never repeat."""

    value = secrets.token_hex(10)

    @classmethod
    def renew(cls) -> None:
        cls.value = secrets.token_hex(10)


os.register_at_fork(after_in_child=_Prefix.renew)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Renders a problem for a client that prefers another media type (a browser: HTML), or None.
ProblemRenderer = Callable[[web.Request, Mapping[str, object]], bytes | None]
PROBLEM_RENDERER: web.AppKey[ProblemRenderer] = web.AppKey("problem_renderer")


class ApiError(Exception):
    """An error the client can act on; translated to problem+json by `error_middleware`."""

    status: ClassVar[int] = 400

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, object]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Unprocessable(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429


class ServiceUnavailable(ApiError):
    status = 503


def problem(
    request: web.Request,
    status: int,
    detail: str,
    *,
    errors: Sequence[Mapping[str, object]] = (),
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    phrase = HTTPStatus(status).phrase
    body: dict[str, object] = {
        # about:blank: the problem is fully described by the HTTP status and its title.
        "type": "about:blank",
        "title": phrase,
        "status": status,
        "detail": detail,
        "instance": request.path_qs if len(request.path_qs) <= 2048 else request.path,
        "request_id": request.get(REQUEST_ID, ""),
        "errors": list(errors),
    }
    render = request.app.get(PROBLEM_RENDERER)
    if render is not None and (page := render(request, body)) is not None:
        return web.Response(status=status, body=page, content_type="text/html", headers=headers)
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if given and _CLIENT_REQUEST_ID.fullmatch(given):
        return given
    # Unique across processes and hosts (a random prefix per process), cheap per request.
    return f"{_Prefix.value}{next(_SEQUENCE):012x}"


def unavailable(request: web.Request, detail: str) -> web.Response:
    return problem(request, 503, detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer, errors included, names its request id (a streamed one when it starts:
    `start_stream`); a handler past REQUEST_TIMEOUT is cut off with a 503."""
    request_id = request[REQUEST_ID] = _request_id(request)
    logs.REQUEST_ID.set(request_id)
    deadlines = request.app[DEADLINES]
    task = deadlines.start()
    response: web.StreamResponse
    try:
        try:
            response = await handler(request)
        except DATABASE_FAULTS as exc:
            if not _may_retry(request, exc):
                raise
            # The connection died under a read: the pool has dropped it (and a failed
            # replica is skipped now), so the same read on a fresh one is worth one try.
            response = await handler(request)
    except asyncio.CancelledError:
        if not deadlines.cut(task):
            raise
        response = _too_slow(request, deadlines.timeout)
    except ApiError as exc:
        response = problem(request, exc.status, exc.detail, errors=exc.errors, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
        response = problem(request, exc.status, _http_detail(request, exc), headers=headers)
    except Exception as exc:  # a driver's own timeout (TimeoutError) included
        response = _fault(request, exc)
    finally:
        deadlines.release(task)
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _too_slow(request: web.Request, timeout: float) -> web.Response:
    log.warning(
        "request took longer than REQUEST_TIMEOUT=%gs [request_id=%s] %s %s",
        timeout,
        request[REQUEST_ID],
        request.method,
        request.path,
    )
    return unavailable(request, f"The request took longer than {timeout:g} s.")


async def start_stream(request: web.Request, response: web.StreamResponse) -> None:
    """Send a streamed response's head: it names its request id, its handler is no longer
    bounded by REQUEST_TIMEOUT (a long download is not a slow handler) and the request can no
    longer be retried or answered with an error."""
    response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    request[STREAMING] = True
    if (task := asyncio.current_task()) is not None:
        request.app[DEADLINES].release(task)
    await response.prepare(request)


def _fault(request: web.Request, exc: Exception) -> web.Response:
    """503 when the database cannot serve now (logged once per outage); else a 500 with no
    internals, its traceback in the log under the request id."""
    if STREAMING in request:
        raise exc  # the response has started: there is nothing left to answer with
    database = request.app.get(DATABASE)
    if database is not None and isinstance(exc, DATABASE_FAULTS) and is_unavailable(exc):
        database.outage.noticed(exc)
        return unavailable(request, "The database is unavailable; try again shortly.")
    log.error(
        "unhandled error [request_id=%s] %s %s",
        request[REQUEST_ID],
        request.method,
        request.path,
        exc_info=exc,
    )
    return problem(request, 500, "The server could not complete the request.")


def _may_retry(request: web.Request, exc: BaseException) -> bool:
    """Reads only (a write may have committed before its connection died), once, and only
    while nothing of the response has been sent."""
    if request.method not in ("GET", "HEAD") or request.get(RETRIED) or STREAMING in request:
        return False
    request[RETRIED] = True
    return is_retryable(exc)


def _http_detail(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"No resource at {request.path}."
    if exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        return f"Method {request.method} is not allowed here; allowed: {allowed}."
    return exc.reason
