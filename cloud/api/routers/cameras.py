"""Cameras: positions for the map, live state from their node, latest evidence image."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.api.accounts import audit
from cloud.api.deps import Admin, Db, Operator, State, Viewer
from cloud.api.routers.admin import node_states
from cloud.api.routers.schemas import CameraOut, MapOut
from cloud.db import EventRecord, SnapshotRecord
from cloud.store.cameras import CameraPosition, camera_positions, upsert_cameras

router = APIRouter(prefix="/api", tags=["cameras"])

SNAPSHOT_PREFERENCE = ("snapshot", "crop")
"""The per-camera page shows the latest whole-scene snapshot, else the latest crop."""


def _event_summary(db: Session) -> dict[str, tuple[str, str, int, datetime]]:
    """Camera id → (site, node of its latest event, event count, latest event time)."""
    latest = (
        select(
            EventRecord.camera_id, func.count().label("n"), func.max(EventRecord.time).label("t")
        )
        .group_by(EventRecord.camera_id)
        .subquery()
    )
    rows = db.execute(
        select(
            EventRecord.camera_id, EventRecord.site_id, EventRecord.node_id, latest.c.n, latest.c.t
        ).join(
            latest, (latest.c.camera_id == EventRecord.camera_id) & (latest.c.t == EventRecord.time)
        )
    ).all()
    return {cam: (site, node, int(n), t) for cam, site, node, n, t in rows}


@router.get("/map", response_model=MapOut)
def map_settings(state: State, who: Viewer) -> MapOut:
    """The camera map's tile URL (``map_tile_url`` setting; None: draw a coordinate grid)."""
    return MapOut(tile_url=state.settings.map_tile_url)


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(db: Db, who: Viewer) -> list[CameraOut]:
    """Registered cameras and cameras seen in events, with position, state and counts.

    A camera's state is its node's (online, offline, degraded): the node that lists it in its
    birth message, else the node of its latest event; ``unknown`` when neither is known.
    """
    summary = _event_summary(db)
    nodes = node_states(db)
    serving = {cam: key for key, (_, _, cams) in nodes.items() for cam in cams}
    with_image = set(db.scalars(select(SnapshotRecord.camera_id).distinct()))
    positions = {p.camera_id: p for p in camera_positions(db)}
    out = []
    for cam in sorted(set(positions) | set(summary)):
        pos = positions.get(cam)
        site, node, count, last = summary.get(cam, ("", None, 0, None))
        key = serving.get(cam) or ((site, node) if node else None)
        state = nodes[key][0] if key in nodes else "unknown"
        out.append(
            CameraOut(
                site_id=pos.site_id if pos else site,
                camera_id=cam,
                name=pos.name if pos else "",
                name_vi=pos.name_vi if pos else "",
                name_en=pos.name_en if pos else "",
                lat=pos.lat if pos else None,
                lon=pos.lon if pos else None,
                heading_deg=pos.heading_deg if pos else None,
                state=state,
                node_id=key[1] if key else None,
                events=count,
                last_event=last,
                has_snapshot=cam in with_image,
            )
        )
    return out


@router.put("/cameras", response_model=list[CameraOut])
def register_cameras(
    body: list[CameraPosition], state: State, db: Db, who: Admin
) -> list[CameraOut]:
    """Register or move cameras (admins); audited. The report intake uses them at once."""
    upsert_cameras(db, body)
    state.reports.cameras_changed()
    audit(db, who.name, "camera.register", "cameras", ", ".join(c.camera_id for c in body)[:500])
    db.commit()
    return list_cameras(db, who)


@router.get(
    "/cameras/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def latest_snapshot(camera_id: str, db: Db, who: Operator) -> Response:
    """The camera's latest evidence image (operators and admins); every view is audited.

    The event it belongs to is in the ``X-Event-Id`` header.
    """
    for kind in SNAPSHOT_PREFERENCE:
        record = db.scalars(
            select(SnapshotRecord)
            .where(SnapshotRecord.camera_id == camera_id, SnapshotRecord.kind == kind)
            .order_by(SnapshotRecord.received_at.desc())
            .limit(1)
        ).first()
        if record is not None:
            break
    else:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no evidence image for this camera")
    audit(db, who.name, "evidence.view", f"event:{record.event_id}", f"{kind} camera:{camera_id}")
    db.commit()
    return Response(
        record.content,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Event-Id": str(record.event_id),
        },
    )
