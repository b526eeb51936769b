"""The pages the aggregator serves besides the operations page: API reference, open data.

Every script and style is a file served here (no inline script, style or handler), so the
pages work under ``script-src 'self'; style-src 'self'`` and with no network beyond the
aggregator. The API reference is Swagger UI from the ``fastapi-offline`` package's own copy
(``fastapi_offline/static``), not from a CDN.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent


def swagger_dir() -> Path:
    """Folder of Swagger UI's bundle (``fastapi-offline``'s packaged copy)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


def mount_pages(app: FastAPI, headers: Mapping[str, str]) -> None:
    """Serve ``/docs`` (Swagger UI), ``/redoc`` (to /docs) and the public ``/open-data/`` page.

    Args:
        app: The aggregator's application (created with ``docs_url=None, redoc_url=None``).
        headers: Security headers of the pages (the operations page's CSP).
    """
    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_dir()), name="swagger-ui")
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    def docs() -> FileResponse:
        return FileResponse(WEB_DIR / "docs.html", headers=dict(headers))

    @router.get("/redoc")
    def redoc() -> RedirectResponse:
        return RedirectResponse("/docs")

    @router.get("/open-data")
    def open_data_redirect() -> RedirectResponse:
        return RedirectResponse("/open-data/")

    @router.get("/open-data/")
    def open_data_page() -> FileResponse:
        return FileResponse(WEB_DIR / "open-data.html", headers=dict(headers))

    app.include_router(router)
