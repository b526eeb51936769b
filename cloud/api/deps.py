"""Shared dependencies of the routers: the app's state, a DB session, who is calling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from cloud.api.accounts import Principal, principal_from_api_key, principal_from_session
from cloud.api.livefeed import AlertFeed
from cloud.api.security import LoginRateLimiter
from cloud.api.settings import ApiSettings
from cloud.db import Role
from cloud.reports.intake import ReportsService
from cloud.reports.photos import PhotoRedactor
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
    """Return the application's state."""
    state: AppState = request.app.state.tm
    return state


State = Annotated[AppState, Depends(get_state)]


def get_db(state: State) -> Iterator[Session]:
    """Yield an ORM session, closed after the request."""
    with state.store.session() as session:
        yield session


Db = Annotated[Session, Depends(get_db)]


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


def live_viewer(request: Request, state: State) -> Principal:
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
