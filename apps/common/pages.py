"""What the apps' HTML pages (/docs, /redoc, /playground) and their static files are sent with.

`secure_page` adds the headers a browser enforces: a Content-Security-Policy that lets a page run
only this service's scripts and the inline scripts it was written with (by their SHA-256, read
from the page with the standard library's HTML parser), fetch only from this service, and never
be framed; `X-Frame-Options` and `nosniff` for browsers that predate CSP; no referrer.
`AssetFiles` serves a directory's asset files (scripts, styles, images) and nothing else, so a
package's Python files or anything else put beside them are never sent.
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from pathlib import PurePosixPath

from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

ASSET_SUFFIXES = frozenset({".js", ".css", ".png", ".svg", ".ico", ".woff", ".woff2", ".map"})
# Styles: Swagger UI and ReDoc set inline styles (ReDoc writes <style> elements as it renders);
# images: Swagger UI's icons are data: URLs; workers: ReDoc's search runs in a blob: worker.
POLICY = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._inside: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._inside = []

    def handle_data(self, data):
        if self._inside is not None:
            self._inside.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._inside is not None:
            self.scripts.append("".join(self._inside))
            self._inside = None


def inline_script_hashes(html: str) -> list[str]:
    """The CSP source ('sha256-...') of every inline <script> of the page, as a browser hashes it."""
    parser = _InlineScripts()
    parser.feed(html)
    parser.close()
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"
        for script in parser.scripts
    ]


def page_headers(html: str) -> dict[str, str]:
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    return {
        "Content-Security-Policy": "; ".join([*POLICY, f"script-src {scripts}"]),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def secure_page(page: HTMLResponse) -> HTMLResponse:
    """`page` with the headers above (its inline scripts allowed by hash, nothing else inline)."""
    page.headers.update(page_headers(page.body.decode("utf-8")))
    return page


class AssetFiles(StaticFiles):
    """StaticFiles that answers 404 for anything but an asset file (ASSET_SUFFIXES), with
    `nosniff`, so a browser runs a file only as what its type says."""

    async def get_response(self, path, scope):
        if PurePosixPath(path).suffix.lower() not in ASSET_SUFFIXES:
            raise StarletteHTTPException(404)
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
