"""Stored events as the operations page reads them: filtered pages, evidence images (audited)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from cloud.db import CameraRecord, EventRecord, SnapshotRecord
from cloud.services.accounts import Principal, audit
from cloud.services.errors import InvalidRequestError, NotFoundError

EVIDENCE_KINDS = ("snapshot", "crop")
"""Kinds of evidence image an event may carry."""

SNAPSHOT_PREFERENCE = ("snapshot", "crop")
"""A camera's latest image: the latest whole-scene snapshot, else the latest crop."""


@dataclass(frozen=True)
class MapBox:
    """A latitude/longitude box, edges included."""

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    @classmethod
    def from_edges(cls, *edges: float | None) -> MapBox | None:
        """The box of four edges; None when none is given.

        Raises:
            InvalidRequestError: when only some edges are given, or a minimum is above its
                maximum.
        """
        if all(v is None for v in edges):
            return None
        if any(v is None for v in edges):
            raise InvalidRequestError("a map box needs all of min_lat, min_lon, max_lat, max_lon")
        min_lat, min_lon, max_lat, max_lon = (float(v) for v in edges if v is not None)
        if min_lat > max_lat or min_lon > max_lon:
            raise InvalidRequestError("min above max in map box")
        return cls(min_lat, min_lon, max_lat, max_lon)


@dataclass(frozen=True)
class EventFilter:
    """Which events to list; every given condition must hold."""

    camera_id: str | None = None
    site_id: str | None = None
    types: Sequence[str] = ()
    severities: Sequence[str] = ()
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""
    box: MapBox | None = None
    """Events of cameras registered inside it."""


Position = tuple[datetime, uuid.UUID]
"""Where a page ends: the (time, event id) of its last event."""


@dataclass(frozen=True)
class Evidence:
    """An evidence image and the event it belongs to."""

    event_id: uuid.UUID
    content: bytes


class EventService:
    """Reads stored events and their evidence on behalf of a caller, on one session.

    Args:
        db: The request's session; evidence views are audited and committed.
    """

    def __init__(self, db: Session) -> None:
        self.db = db

    def page(
        self, where: EventFilter, after: Position | None, limit: int
    ) -> tuple[list[EventRecord], bool]:
        """Events newest first, after ``after``; return them and whether more follow."""
        stmt = _filtered(select(EventRecord), where)
        if after is not None:
            time, event_id = after
            stmt = stmt.where(
                or_(
                    EventRecord.time < time,
                    and_(EventRecord.time == time, EventRecord.event_id < event_id),
                )
            )
        stmt = stmt.order_by(EventRecord.time.desc(), EventRecord.event_id.desc())
        rows = list(self.db.scalars(stmt.limit(limit + 1)))
        return rows[:limit], len(rows) > limit

    def get(self, event_id: uuid.UUID) -> EventRecord:
        """One event (NotFoundError when it is not stored)."""
        record = self.db.get(EventRecord, event_id)
        if record is None:
            raise NotFoundError("no such event")
        return record

    def evidence(self, event_id: uuid.UUID, kind: str, who: Principal) -> Evidence:
        """An event's evidence image; the view is audited.

        Images are taken when an incident starts: for a later event of the same incident (an
        update or its end: same camera, rule, type and track) the incident's image is given.

        Raises:
            NotFoundError: unknown kind, or no such image.
        """
        if kind not in EVIDENCE_KINDS:
            raise NotFoundError("no such evidence kind")
        record = self.db.get(SnapshotRecord, (event_id, kind)) or self._incident_evidence(
            event_id, kind
        )
        if record is None:
            raise NotFoundError("no such evidence image")
        detail = kind if record.event_id == event_id else f"{kind} for event:{event_id}"
        audit(self.db, who.name, "evidence.view", f"event:{record.event_id}", detail)
        self.db.commit()
        return Evidence(record.event_id, record.content)

    def camera_evidence(self, camera_id: str, who: Principal) -> Evidence:
        """A camera's latest evidence image (``SNAPSHOT_PREFERENCE``); the view is audited.

        Raises:
            NotFoundError: the camera has no evidence image.
        """
        for kind in SNAPSHOT_PREFERENCE:
            record = self.db.scalars(
                select(SnapshotRecord)
                .where(SnapshotRecord.camera_id == camera_id, SnapshotRecord.kind == kind)
                .order_by(SnapshotRecord.received_at.desc())
                .limit(1)
            ).first()
            if record is not None:
                break
        else:
            raise NotFoundError("no evidence image for this camera")
        target = f"event:{record.event_id}"
        audit(self.db, who.name, "evidence.view", target, f"{kind} camera:{camera_id}")
        self.db.commit()
        return Evidence(record.event_id, record.content)

    def camera_summary(self) -> dict[str, tuple[str, str, int, datetime]]:
        """Camera id → (site, node of its latest event, event count, latest event time)."""
        latest = (
            select(
                EventRecord.camera_id,
                func.count().label("n"),
                func.max(EventRecord.time).label("t"),
            )
            .group_by(EventRecord.camera_id)
            .subquery()
        )
        joined = (latest.c.camera_id == EventRecord.camera_id) & (latest.c.t == EventRecord.time)
        rows = self.db.execute(
            select(
                EventRecord.camera_id,
                EventRecord.site_id,
                EventRecord.node_id,
                latest.c.n,
                latest.c.t,
            ).join(latest, joined)
        ).all()
        return {cam: (site, node, int(n), t) for cam, site, node, n, t in rows}

    def hourly_counts(
        self, start: datetime, end: datetime, exclude_types: Collection[str] = ()
    ) -> Counter[tuple[datetime, str]]:
        """Events from ``start`` (inclusive) to ``end`` counted by (UTC hour, type)."""
        rows = self.db.execute(
            select(EventRecord.time, EventRecord.type).where(
                EventRecord.time >= start,
                EventRecord.time < end,
                EventRecord.type.not_in(list(exclude_types)),
            )
        )
        buckets: Counter[tuple[datetime, str]] = Counter()
        for time, type_ in rows:
            buckets[time.replace(minute=0, second=0, microsecond=0), type_] += 1
        return buckets

    def cameras_with_evidence(self) -> set[str]:
        """Ids of the cameras with at least one evidence image."""
        return set(self.db.scalars(select(SnapshotRecord.camera_id).distinct()))

    def _incident_evidence(self, event_id: uuid.UUID, kind: str) -> SnapshotRecord | None:
        """The latest image of the incident ``event_id`` belongs to, taken at or before it."""
        event = self.db.get(EventRecord, event_id)
        if event is None:
            return None
        same_track = (
            EventRecord.track_id.is_(None)
            if event.track_id is None
            else EventRecord.track_id == event.track_id
        )
        return self.db.scalars(
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


def _filtered(stmt: Select[Any], where: EventFilter) -> Select[Any]:
    """``stmt`` restricted to the events ``where`` lets through."""
    if where.box is not None:
        box = where.box
        inside = select(CameraRecord.camera_id).where(
            CameraRecord.lat.between(box.min_lat, box.max_lat),
            CameraRecord.lon.between(box.min_lon, box.max_lon),
        )
        stmt = stmt.where(EventRecord.camera_id.in_(inside))
    if where.camera_id is not None:
        stmt = stmt.where(EventRecord.camera_id == where.camera_id)
    if where.site_id is not None:
        stmt = stmt.where(EventRecord.site_id == where.site_id)
    if where.types:
        stmt = stmt.where(EventRecord.type.in_(list(where.types)))
    if where.severities:
        stmt = stmt.where(EventRecord.severity.in_(list(where.severities)))
    if where.since is not None:
        stmt = stmt.where(EventRecord.time >= where.since)
    if where.until is not None:
        stmt = stmt.where(EventRecord.time < where.until)
    return stmt
