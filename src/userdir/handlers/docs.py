"""The API's own description: the OpenAPI document and interactive documentation."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
from aiohttp import web
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from userdir.keys import OPENAPI
from userdir.responses import JSON

# Served by routes.py from the installed swagger-ui-bundle package: /docs works offline.
DOCS_ASSETS = "/docs/assets"
DOCS_ASSETS_DIR = Path(str(swagger_ui_path))


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type=JSON)


async def docs(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template(
        "docs.html", request, {"assets": DOCS_ASSETS, "spec_url": "/openapi.json"}
    )
