"""Events (filters, cursor pagination), evidence images (audited) and statistics."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from cloud.api.accounts import audit
from cloud.api.deps import Db, Operator, Viewer
from cloud.api.routers.schemas import EventOut, EventPage
from cloud.db import CameraRecord, EventRecord, SnapshotRecord, to_utc
from traffic_monitor.contract import EventType, Severity

router = APIRouter(prefix="/api", tags=["events"])

EVIDENCE_KINDS = ("snapshot", "crop")


def encode_cursor(time: datetime, event_id: uuid.UUID) -> str:
    """Encode the position after an event as an opaque cursor."""
    raw = f"{to_utc(time).isoformat()}|{event_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Decode a cursor; 400 when it is not one of ours."""
    try:
        time_s, id_s = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return to_utc(datetime.fromisoformat(time_s)), uuid.UUID(id_s)
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid cursor") from exc


@router.get("/events", response_model=EventPage)
def list_events(
    *,
    db: Db,
    who: Viewer,
    camera_id: str | None = None,
    site_id: str | None = None,
    type: Annotated[list[EventType] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    min_lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    max_lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    max_lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventPage:
    """List events newest first; filters combine with AND; ``since`` inclusive, ``until`` not.

    The map box (``min_lat``, ``min_lon``, ``max_lat``, ``max_lon``, all four, edges included)
    keeps events of cameras whose registered position lies inside it.
    """
    stmt = _in_box(select(EventRecord), (min_lat, min_lon, max_lat, max_lon))
    if camera_id is not None:
        stmt = stmt.where(EventRecord.camera_id == camera_id)
    if site_id is not None:
        stmt = stmt.where(EventRecord.site_id == site_id)
    if type:
        stmt = stmt.where(EventRecord.type.in_([t.value for t in type]))
    if severity:
        stmt = stmt.where(EventRecord.severity.in_([s.value for s in severity]))
    if since is not None:
        stmt = stmt.where(EventRecord.time >= _utc(since))
    if until is not None:
        stmt = stmt.where(EventRecord.time < _utc(until))
    if cursor is not None:
        c_time, c_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                EventRecord.time < c_time,
                and_(EventRecord.time == c_time, EventRecord.event_id < c_id),
            )
        )
    stmt = stmt.order_by(EventRecord.time.desc(), EventRecord.event_id.desc()).limit(limit + 1)
    rows = list(db.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_event_out(r) for r in rows]
    next_cursor = encode_cursor(rows[-1].time, rows[-1].event_id) if more else None
    return EventPage(items=items, next_cursor=next_cursor)


def _in_box(stmt: Select[Any], box: tuple[float | None, ...]) -> Select[Any]:
    """Restrict to cameras positioned inside a lat/lon box (422 on a partial or empty box)."""
    if all(v is None for v in box):
        return stmt
    if any(v is None for v in box):
        raise HTTPException(422, "a map box needs all of min_lat, min_lon, max_lat, max_lon")
    min_lat, min_lon, max_lat, max_lon = (float(v) for v in box if v is not None)
    if min_lat > max_lat or min_lon > max_lon:
        raise HTTPException(422, "min above max in map box")
    inside = select(CameraRecord.camera_id).where(
        CameraRecord.lat.between(min_lat, max_lat), CameraRecord.lon.between(min_lon, max_lon)
    )
    return stmt.where(EventRecord.camera_id.in_(inside))


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "times need a UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "time out of range") from None


def _event_out(record: EventRecord) -> EventOut:
    return EventOut.model_validate(record)


@router.get("/events/{event_id}", response_model=EventOut)
def get_event(event_id: uuid.UUID, db: Db, who: Viewer) -> EventOut:
    """Return one event."""
    record = db.get(EventRecord, event_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such event")
    return _event_out(record)


@router.get(
    "/events/{event_id}/evidence/{kind}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_evidence(event_id: uuid.UUID, kind: str, db: Db, who: Operator) -> Response:
    """Return an evidence image (operators and admins); every view is audited.

    Images are taken when an incident starts: for a later event of the same incident (an
    update or its end: same camera, rule, type and track) the incident's image is served.
    The event the image belongs to is in the ``X-Event-Id`` header.
    """
    if kind not in EVIDENCE_KINDS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such evidence kind")
    record = db.get(SnapshotRecord, (event_id, kind)) or _incident_evidence(db, event_id, kind)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such evidence image")
    detail = kind if record.event_id == event_id else f"{kind} for event:{event_id}"
    audit(db, who.name, "evidence.view", f"event:{record.event_id}", detail)
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


def _incident_evidence(db: Session, event_id: uuid.UUID, kind: str) -> SnapshotRecord | None:
    """The latest image of the incident ``event_id`` belongs to, taken at or before it."""
    event = db.get(EventRecord, event_id)
    if event is None:
        return None
    same_track = (
        EventRecord.track_id.is_(None)
        if event.track_id is None
        else EventRecord.track_id == event.track_id
    )
    return db.scalars(
        select(SnapshotRecord)
        .join(EventRecord, EventRecord.event_id == SnapshotRecord.event_id)
        .where(
            SnapshotRecord.kind == kind,
            EventRecord.site_id == event.site_id,
            EventRecord.camera_id == event.camera_id,
            EventRecord.type == event.type,
            EventRecord.rule == event.rule,
            EventRecord.time <= event.time,
            same_track,
        )
        .order_by(EventRecord.time.desc())
        .limit(1)
    ).first()
