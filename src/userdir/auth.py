"""Bearer tokens for writes: reads are public, every write names a configured token."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from userdir.errors import Forbidden, Unauthorized
from userdir.keys import SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CHALLENGE = 'Bearer realm="userdir"'


def token_matches(given: str, tokens: tuple[str, ...]) -> bool:
    """Compare against every token, each in constant time, so timing reveals neither a
    token's characters nor which token matched."""
    candidate = given.encode()
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(candidate, token.encode())
    return matched


def _is_text(value: str) -> bool:
    """aiohttp decodes header bytes as UTF-8 and keeps bytes that are not UTF-8 as lone
    surrogates, which no configured token holds and which cannot be encoded again."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_token(request: web.Request) -> None:
    tokens = request.app[SETTINGS].api_tokens
    if not tokens:
        # Never open by default: a server started without tokens is read-only.
        raise Forbidden("Writes are disabled: the server has no API token (USERDIR_API_TOKENS).")
    check_bearer(request, tokens, "writes")


def check_bearer(request: web.Request, tokens: tuple[str, ...], purpose: str) -> None:
    """401 without a bearer token, 403 with one that is none of `tokens` (for `purpose`)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    token = given.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            f"{purpose.capitalize()} need an 'Authorization: Bearer <token>' header.",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    if not _is_text(token):
        raise Unauthorized(
            "The bearer token is not UTF-8 text.", headers={"WWW-Authenticate": CHALLENGE}
        )
    if not token_matches(token, tokens):
        raise Forbidden(f"The bearer token is not valid for {purpose}.")


def requires_token(handler: Handler) -> Handler:
    """Decorate a write handler: the token is checked before the body is even read."""

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        check_token(request)
        return await handler(request)

    return checked
