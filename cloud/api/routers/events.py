"""Events (filters, cursor pagination), evidence images (audited) and statistics."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from cloud.api.deps import Events, Operator, Viewer
from cloud.api.routers.schemas import EventOut, EventPage
from cloud.db import to_utc
from cloud.services.events import EventFilter, Evidence, MapBox
from traffic_monitor.contract import EventType, Severity

router = APIRouter(prefix="/api", tags=["events"])


def encode_cursor(time: datetime, event_id: uuid.UUID) -> str:
    """Encode the position after an event as an opaque cursor."""
    raw = f"{time.isoformat()}|{event_id}"
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
    events: Events,
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
    where = EventFilter(
        camera_id=camera_id,
        site_id=site_id,
        types=[t.value for t in type or ()],
        severities=[s.value for s in severity or ()],
        since=None if since is None else _utc(since),
        until=None if until is None else _utc(until),
        box=MapBox.from_edges(min_lat, min_lon, max_lat, max_lon),
    )
    after = None if cursor is None else decode_cursor(cursor)
    rows, more = events.page(where, after, limit)
    items = [EventOut.model_validate(r) for r in rows]
    next_cursor = encode_cursor(rows[-1].time, rows[-1].event_id) if more else None
    return EventPage(items=items, next_cursor=next_cursor)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "times need a UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "time out of range") from None


@router.get("/events/{event_id}", response_model=EventOut)
def get_event(event_id: uuid.UUID, events: Events, who: Viewer) -> EventOut:
    """Return one event."""
    return EventOut.model_validate(events.get(event_id))


@router.get(
    "/events/{event_id}/evidence/{kind}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_evidence(event_id: uuid.UUID, kind: str, events: Events, who: Operator) -> Response:
    """Return an evidence image (operators and admins); every view is audited.

    Images are taken when an incident starts: for a later event of the same incident (an
    update or its end: same camera, rule, type and track) the incident's image is served.
    The event the image belongs to is in the ``X-Event-Id`` header.
    """
    return jpeg_response(events.evidence(event_id, kind, who))


def jpeg_response(evidence: Evidence) -> Response:
    """An evidence image as an uncached JPEG response naming its event."""
    return Response(
        evidence.content,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Event-Id": str(evidence.event_id),
        },
    )
