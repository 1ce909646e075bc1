"""Every app's API pages, served by the app itself: `/docs` (Swagger UI) and `/redoc` read the app's
`/openapi.json`; their scripts and styles come from the fastapi-offline package under `/static/docs/`
(FastAPI's own pages load them from a CDN, which a closed network cannot reach). The pages carry a
Content-Security-Policy and the other headers of apps/common/pages.py. Paths are relative to the
app's route prefix."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from apps.common.pages import AssetFiles, secure_page

ASSETS_URL = "/static/docs"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
FAVICON = "favicon.png"


def add_docs_pages(app: FastAPI, title: str) -> None:
    app.mount(ASSETS_URL, AssetFiles(directory=ASSETS_DIR), name="docs-assets")

    def page(root: str, make: Callable[..., HTMLResponse], **assets: str) -> HTMLResponse:
        """`make`'s page of the app's document, its scripts and styles (`assets`) served here."""
        urls = {argument: f"{root}{ASSETS_URL}/{name}" for argument, name in assets.items()}
        return make(openapi_url=f"{root}/openapi.json", title=f"{title}: API", **urls)

    swagger = {"swagger_js_url": "swagger-ui-bundle.js", "swagger_css_url": "swagger-ui.css"}
    redoc = {"redoc_js_url": "redoc.standalone.js"}
    without_fonts = functools.partial(get_redoc_html, with_google_fonts=False)
    _add_page(
        app, "/docs", lambda root: page(root, get_swagger_ui_html, **swagger, swagger_favicon_url=FAVICON)
    )
    _add_page(app, "/redoc", lambda root: page(root, without_fonts, **redoc, redoc_favicon_url=FAVICON))


def _add_page(app: FastAPI, path: str, render: Callable[[str], HTMLResponse]) -> None:
    """GET `path`: the page `render` makes for the app's root path, with the pages' headers."""

    async def page(request: Request) -> HTMLResponse:
        return secure_page(render(request.scope.get("root_path", "").rstrip("/")))

    app.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)


class PublishesAPIDocument:
    """Mixin for a @serve.ingress deployment: its OpenAPI document through a handle call, paths
    relative to its route prefix (the router merges it into the front door's /openapi.json)."""

    app: FastAPI  # set by @serve.ingress

    def api_document(self) -> dict:
        return self.app.openapi()
