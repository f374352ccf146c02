"""Typed application keys: a leaf module, so every other module can import it without cycles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from userdir.cache import Cache
    from userdir.config import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessionmaker")
CACHE: web.AppKey[Cache] = web.AppKey("cache")
OPENAPI: web.AppKey[bytes] = web.AppKey("openapi")
