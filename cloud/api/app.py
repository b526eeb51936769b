"""The aggregator's HTTP application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from cloud.api import errors, middleware
from cloud.api.deps import AppState
from cloud.api.livefeed import AlertFeed
from cloud.api.routers import (
    admin,
    alerts,
    auth,
    cameras,
    events,
    false_alarms,
    live,
    opendata,
    plots,
    reports,
)
from cloud.api.settings import ApiSettings
from cloud.reports.directory import StoredCameras
from cloud.reports.photos import PhotoPrivacy, PhotoRedactor
from cloud.reports.router import router as open311_router
from cloud.services.ratelimit import SharedLimits
from cloud.services.reports import ReportsService
from cloud.services.security import LoginRateLimiter
from cloud.store import EventStore
from cloud.web.pages import mount_pages
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SETTINGS_ENV = "TM_SERVE_SETTINGS"
"""The settings ``cloud serve --workers N`` hands its worker processes (ApiSettings JSON)."""


def settings_from_environment() -> ApiSettings:
    """The settings a worker process of ``cloud serve --workers N`` was started with.

    Raises:
        UserFacingError: ``TM_SERVE_SETTINGS`` is missing or invalid (the process was not
            started by ``cloud serve``).
    """
    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise UserFacingError(f"{SETTINGS_ENV} is not set: start the server with `cloud serve`")
    try:
        return ApiSettings.model_validate_json(raw)
    except ValidationError as exc:
        raise UserFacingError(f"invalid {SETTINGS_ENV}:\n{exc}") from exc


def create_app_from_environment() -> FastAPI:
    """A worker's application (uvicorn factory), without photo privacy.

    ``traffic-monitor cloud serve`` uses ``traffic_monitor.aggregator_app:create`` instead,
    which wires in the edge's head and plate detectors.
    """
    return create_app(settings_from_environment())


def create_app(
    settings: ApiSettings,
    store: EventStore | None = None,
    extra_routers: Sequence[APIRouter] = (),
    photo_privacy: PhotoPrivacy | None = None,
) -> FastAPI:
    """Build the aggregator's FastAPI application.

    Args:
        settings: API settings.
        store: the event store (built from ``settings.database_url`` when omitted; the
            tables must exist: ``cloud migrate``).
        extra_routers: more routers to include.
        photo_privacy: blurs heads and plates in report photos for operators; the top layer
            passes the edge's detectors (``edge.privacy.photos``). None: whole photos are
            pixelated.

    The citizen-report intake is always part of the app: Open311 GeoReport v2 (public, for
    the city's apps) at ``/open311/v2`` and the operators' side at ``/api/reports``.
    """
    if store is None:
        store = EventStore(settings.database_url, settings.database_schema)
    app = FastAPI(
        title="Traffic monitor aggregator",
        version="0.1.0",
        description="Events, alerts, cameras and open data of the city's traffic cameras.",
        docs_url=None,  # served offline by cloud.web.pages (no CDN, no inline script)
        redoc_url=None,
    )
    sessions = store.sessions  # the one session factory of the aggregator
    limits = SharedLimits(settings.rate_limit_storage)  # shared by every server process
    camera_sites = StoredCameras(sessions, settings.camera_cache_s)
    intake = ReportsService(sessions, camera_sites, settings.reports, limits=limits)
    login_limiter = LoginRateLimiter(
        limits,
        settings.login_max_failures,
        settings.login_max_failures_per_address,
        settings.login_window_s,
    )
    app.state.tm = AppState(
        settings=settings,
        store=store,
        limiter=login_limiter,
        reports=intake,
        feed=AlertFeed(store, settings.live_poll_s),
        redactor=PhotoRedactor(photo_privacy),
    )
    # the citizens' intake first: the busiest path (up to hundreds of reports per second)
    # should not be matched against every operator route before its own
    app.include_router(open311_router, prefix="/open311/v2")
    # the citizens' open-data page and tables (public), before the export folder's mount
    mount_pages(app, {})  # the security headers come from cloud.api.middleware
    app.include_router(opendata.public_router)
    routers = (auth.router, events.router, alerts.router, admin.router, live.router)
    page_routers = (plots.router, false_alarms.router)
    for router in (*routers, cameras.router, opendata.router, *page_routers, reports.router):
        app.include_router(router)
    for router in extra_routers:
        app.include_router(router)
    if settings.open_data_dir is not None:
        # The published export (``cloud export-open-data --out``): public, no login.
        Path(settings.open_data_dir).mkdir(parents=True, exist_ok=True)
        app.mount("/open-data", StaticFiles(directory=settings.open_data_dir), name="open-data")
    _mount_web(app)
    errors.install(app)  # the services' errors as 404, 409, 422, 401, 429
    # security headers on every response (CSP with the map's tile server, and only it),
    # request bodies capped, 422 answers that never echo the refused input
    middleware.install(
        app, settings.map_tile_origin, settings.max_body_bytes, settings.reports.max_photo_bytes
    )
    return app


def _mount_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")
