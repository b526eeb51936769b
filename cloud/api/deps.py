"""Dependencies of the routers, as ``Annotated`` aliases: services, a DB session, the caller.

Routers only translate HTTP: they name what they need here (``Alerts``, ``Accounts``,
``Events``, ``Reports``, ``Settings``, ``Viewer`` ...) and never reach into the app object.
The per-request services are built on the request's session (from the store's one session
factory); the long-lived ones (report intake, live feed, photo redactor) are made once by
:func:`cloud.api.app.create_app`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from cloud.api.livefeed import AlertFeed
from cloud.api.settings import ApiSettings
from cloud.db import Role
from cloud.reports.photos import PhotoRedactor
from cloud.services.accounts import (
    AccountService,
    LoginPolicy,
    Principal,
    principal_from_api_key,
    principal_from_session,
)
from cloud.services.alerts import AlertService
from cloud.services.cameras import CameraService
from cloud.services.events import EventService
from cloud.services.nodes import NodeService
from cloud.services.report_desk import ReportDesk
from cloud.services.reports import ReportsService
from cloud.services.security import LoginRateLimiter
from cloud.store import EventStore

SESSION_COOKIE = "tm_session"
API_KEY_HEADER = "X-API-Key"


@dataclass
class AppState:
    """What every request can reach: settings, store, login limiter, reports, live feed."""

    settings: ApiSettings
    store: EventStore
    limiter: LoginRateLimiter
    reports: ReportsService
    feed: AlertFeed
    redactor: PhotoRedactor


def get_state(request: Request) -> AppState:
    """Return the application's long-lived parts (only the providers below use it)."""
    state: AppState = request.app.state.tm
    return state


_State = Annotated[AppState, Depends(get_state)]


def get_settings(state: _State) -> ApiSettings:
    """The API's settings."""
    return state.settings


def get_store(state: _State) -> EventStore:
    """The event store (for the open-data aggregates, which open their own connections)."""
    return state.store


def get_db(state: _State) -> Iterator[Session]:
    """Yield an ORM session from the store's session factory, closed after the request."""
    with state.store.session() as session:
        yield session


def get_reports(state: _State) -> ReportsService:
    """The citizen-report intake."""
    return state.reports


def get_feed(state: _State) -> AlertFeed:
    """The live alert feed."""
    return state.feed


def get_redactor(state: _State) -> PhotoRedactor:
    """The report-photo redactor (heads and plates pixelated)."""
    return state.redactor


Settings = Annotated[ApiSettings, Depends(get_settings)]
Store = Annotated[EventStore, Depends(get_store)]
Db = Annotated[Session, Depends(get_db)]
Reports = Annotated[ReportsService, Depends(get_reports)]
Feed = Annotated[AlertFeed, Depends(get_feed)]
Redactor = Annotated[PhotoRedactor, Depends(get_redactor)]


def get_accounts(db: Db, state: _State) -> AccountService:
    """Logins, users and API keys on the request's session."""
    settings = state.settings
    return AccountService(db, LoginPolicy(state.limiter, settings.session_ttl_s))


def get_alerts(db: Db) -> AlertService:
    """Alert cards on the request's session."""
    return AlertService(db)


def get_events(db: Db) -> EventService:
    """Stored events and evidence on the request's session."""
    return EventService(db)


def get_nodes(db: Db) -> NodeService:
    """Edge-node states on the request's session."""
    return NodeService(db)


def get_cameras(db: Db, reports: Reports) -> CameraService:
    """Cameras on the request's session."""
    return CameraService(db, reports)


def get_desk(db: Db, reports: Reports, redactor: Redactor) -> ReportDesk:
    """Operator actions on citizen reports, audited on the request's session."""
    return ReportDesk(db, reports, redactor)


Accounts = Annotated[AccountService, Depends(get_accounts)]
Alerts = Annotated[AlertService, Depends(get_alerts)]
Events = Annotated[EventService, Depends(get_events)]
Nodes = Annotated[NodeService, Depends(get_nodes)]
Cameras = Annotated[CameraService, Depends(get_cameras)]
Desk = Annotated[ReportDesk, Depends(get_desk)]


def credential(request: Request) -> tuple[str, str] | None:
    """Return ("key", value) or ("session", token) from the request, or None."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return "key", key
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return "session", auth[7:].strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    return ("session", cookie) if cookie else None


def _principal(request: Request, db: Session) -> Principal:
    found = credential(request)
    principal: Principal | None = None
    if found is not None:
        kind, value = found
        if kind == "key":
            principal = principal_from_api_key(db, value)
        else:
            principal = principal_from_session(db, value)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authentication required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def get_principal(request: Request, db: Db) -> Principal:
    """Return who is calling; 401 when nobody valid is."""
    return _principal(request, db)


def require(role: Role) -> Callable[[Principal], Principal]:
    """Return a dependency that lets through principals with at least ``role`` (else 403)."""

    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role")
        return principal

    return check


def live_viewer(request: Request, state: _State) -> Principal:
    """A viewer checked with a session closed at once: for streams that stay open for hours.

    (The ``Db`` dependency lives as long as the response, so a stream that used it would
    hold a pooled connection for as long as the page stays open.)
    """
    with state.store.session() as db:
        principal = _principal(request, db)
    if not principal.allows(Role.VIEWER):  # pragma: no cover - every role is a viewer
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {Role.VIEWER} role")
    return principal


LiveViewer = Annotated[Principal, Depends(live_viewer)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
