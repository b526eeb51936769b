"""Administration: users, API keys, the full audit log, node status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.api.accounts import as_utc, audit, create_api_key, create_user, utcnow
from cloud.api.deps import Admin, Db, Viewer
from cloud.api.models import AuditRecord, UserRecord
from cloud.api.routers.schemas import ApiKeyIn, ApiKeyOut, AuditOut, NodeOut, UserIn, UserOut
from cloud.store.models import NodeStatsRecord, NodeStatusRecord

router = APIRouter(prefix="/api", tags=["admin"])

DEGRADED_AFTER = timedelta(minutes=2)
"""An online node without a statistics message for this long is shown as degraded."""


@router.get("/users", response_model=list[UserOut])
def list_users(db: Db, who: Admin) -> list[UserOut]:
    """List users."""
    return [UserOut.model_validate(u) for u in db.scalars(select(UserRecord).order_by("id"))]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def add_user(body: UserIn, db: Db, who: Admin) -> UserOut:
    """Create a user."""
    user = create_user(db, body.username, body.password, body.role)
    audit(db, who.name, "user.create", f"user:{body.username}", body.role.value)
    db.commit()
    return UserOut.model_validate(user)


@router.post("/api-keys", response_model=ApiKeyOut, status_code=status.HTTP_201_CREATED)
def add_api_key(body: ApiKeyIn, db: Db, who: Admin) -> ApiKeyOut:
    """Create an API key for a machine client (shown once)."""
    key = create_api_key(db, body.name, body.role)
    audit(db, who.name, "api_key.create", f"api_key:{body.name}", body.role.value)
    db.commit()
    return ApiKeyOut(name=body.name, role=body.role, key=key)


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
        ((site, node), as_utc(t))
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
        seen = max(filter(None, [as_utc(record.time), last_stats.get(key)]))
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
