"""Administration: users, API keys, the full audit log, node status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.api.accounts import (
    audit,
    count_admins,
    create_api_key,
    create_user,
    end_sessions,
    find_user,
    revoke_api_key,
    utcnow,
)
from cloud.api.deps import Admin, Db, Viewer
from cloud.api.routers.schemas import (
    ApiKeyIn,
    ApiKeyInfo,
    ApiKeyOut,
    AuditOut,
    NodeOut,
    SessionsEnded,
    UserChange,
    UserIn,
    UserOut,
)
from cloud.db import ApiKeyRecord, AuditRecord, NodeStatsRecord, NodeStatusRecord, Role, UserRecord
from traffic_monitor.errors import UserFacingError

router = APIRouter(prefix="/api", tags=["admin"])

DEGRADED_AFTER = timedelta(minutes=2)
"""An online node without a statistics message for this long is shown as degraded."""


@router.get("/users", response_model=list[UserOut])
def list_users(db: Db, who: Admin) -> list[UserOut]:
    """List users."""
    return [UserOut.model_validate(u) for u in db.scalars(select(UserRecord).order_by("id"))]


UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", description="User name.")]
KeyName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Key name.")]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def add_user(body: UserIn, db: Db, who: Admin) -> UserOut:
    """Create a user (409 when the name is taken)."""
    try:
        user = create_user(db, body.username, body.password, body.role)
    except UserFacingError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    audit(db, who.name, "user.create", f"user:{body.username}", body.role.value)
    db.commit()
    return UserOut.model_validate(user)


def _user(db: Session, username: str) -> UserRecord:
    user = find_user(db, username)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    return user


@router.patch("/users/{username}", response_model=UserOut)
def change_user(username: UserName, body: UserChange, db: Db, who: Admin) -> UserOut:
    """Deactivate or reactivate a user, or change their role; audited.

    Deactivating ends the user's sessions at once. The last active admin cannot be
    deactivated or demoted (409).
    """
    user = _user(db, username)
    losing_admin = (
        user.role == Role.ADMIN.value
        and user.active
        and (body.active is False or (body.role is not None and body.role is not Role.ADMIN))
    )
    if losing_admin and count_admins(db) <= 1:
        raise HTTPException(status.HTTP_409_CONFLICT, "the last active admin must stay")
    changes = []
    if body.active is not None and body.active != user.active:
        user.active = body.active
        changes.append("activated" if body.active else "deactivated")
        if not body.active:
            end_sessions(db, user)
    if body.role is not None and body.role.value != user.role:
        changes.append(f"role {user.role}->{body.role.value}")
        user.role = body.role.value
    if changes:
        audit(db, who.name, "user.change", f"user:{username}", ", ".join(changes))
    db.commit()
    return UserOut.model_validate(user)


@router.delete("/users/{username}/sessions", response_model=SessionsEnded)
def end_user_sessions(username: UserName, db: Db, who: Admin) -> SessionsEnded:
    """End every session of a user (logged out everywhere); audited."""
    ended = end_sessions(db, _user(db, username))
    audit(db, who.name, "user.sessions_end", f"user:{username}", str(ended))
    db.commit()
    return SessionsEnded(username=username, ended=ended)


@router.get("/api-keys", response_model=list[ApiKeyInfo])
def list_api_keys(db: Db, who: Admin) -> list[ApiKeyInfo]:
    """List API keys (never the keys themselves)."""
    rows = db.scalars(select(ApiKeyRecord).order_by(ApiKeyRecord.name))
    return [ApiKeyInfo.model_validate(r) for r in rows]


@router.post("/api-keys", response_model=ApiKeyOut, status_code=status.HTTP_201_CREATED)
def add_api_key(body: ApiKeyIn, db: Db, who: Admin) -> ApiKeyOut:
    """Create an API key for a machine client (shown once; 409 when the name is taken)."""
    try:
        key = create_api_key(db, body.name, body.role)
    except UserFacingError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    audit(db, who.name, "api_key.create", f"api_key:{body.name}", body.role.value)
    db.commit()
    return ApiKeyOut(name=body.name, role=body.role, key=key)


@router.delete("/api-keys/{name}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(name: KeyName, db: Db, who: Admin) -> None:
    """Revoke an API key: it stops working at once; audited."""
    if not revoke_api_key(db, name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such API key")
    audit(db, who.name, "api_key.revoke", f"api_key:{name}")
    db.commit()


@router.get("/audit", response_model=list[AuditOut])
def list_audit(
    db: Db, who: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[AuditOut]:
    """Return the latest audit lines, newest first."""
    rows = db.scalars(select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit))
    return [AuditOut.model_validate(r) for r in rows]


NodeKey = tuple[str, str]


def node_states(db: Session) -> dict[NodeKey, tuple[str, datetime, list[str]]]:
    """State, last seen time and camera ids of every known node, by (site, node)."""
    last_stats = dict(
        ((site, node), t)
        for site, node, t in db.execute(
            select(
                NodeStatsRecord.site_id, NodeStatsRecord.node_id, func.max(NodeStatsRecord.time)
            ).group_by(NodeStatsRecord.site_id, NodeStatsRecord.node_id)
        ).all()
    )
    now = utcnow()
    out = {}
    for record in db.scalars(select(NodeStatusRecord)):
        key = (record.site_id, record.node_id)
        seen = max(filter(None, [record.time, last_stats.get(key)]))
        state = "offline"
        if record.online:
            state = "online" if now - seen <= DEGRADED_AFTER else "degraded"
        cameras = [str(c) for c in (record.payload or {}).get("cameras", [])]
        out[key] = (state, seen, cameras)
    return out


@router.get("/nodes", response_model=list[NodeOut])
def list_nodes(db: Db, who: Viewer) -> list[NodeOut]:
    """Return every known edge node: online, offline, or degraded (online, no recent stats)."""
    return [
        NodeOut(site_id=site, node_id=node, state=state, last_seen=seen)
        for (site, node), (state, seen, _) in node_states(db).items()
    ]
