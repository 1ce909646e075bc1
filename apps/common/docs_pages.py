"""Every app's API pages, served by the app itself: `/docs` (Swagger UI) and `/redoc` read the app's
`/openapi.json`; their scripts and styles come from the fastapi-offline package under `/static/docs/`
(FastAPI's own pages load them from a CDN, which a closed network cannot reach). The pages carry a
Content-Security-Policy and the other headers of apps/common/pages.py. Paths are relative to the
app's route prefix."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from apps.common.pages import AssetFiles, secure_page

ASSETS_URL = "/static/docs"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def add_docs_pages(app: FastAPI, title: str) -> None:
    app.mount(ASSETS_URL, AssetFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{title}: API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )
        return secure_page(page)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{title}: API",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return secure_page(page)


class PublishesAPIDocument:
    """Mixin for a @serve.ingress deployment: its OpenAPI document through a handle call, paths
    relative to its route prefix (the router merges it into the front door's /openapi.json)."""

    app: FastAPI  # set by @serve.ingress

    def api_document(self) -> dict:
        return self.app.openapi()
