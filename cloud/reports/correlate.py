"""Camera correlation: cameras near a report and their recent events of matching kinds.

Camera locations come in as a mapping (``camera_id → CameraSite``) until the store keeps
them; events are read from the store's ``events`` table (:class:`cloud.db.EventRecord`).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cloud.db import EventRecord
from cloud.reports.classify import Category
from traffic_monitor.contract.events import EventType

logger = logging.getLogger(__name__)

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""

MATCHING_EVENT_TYPES: Final[Mapping[Category, tuple[EventType, ...]]] = {
    Category.ACCIDENT: (EventType.STOPPED_VEHICLE,),
    Category.CONGESTION: (EventType.CONGESTION,),
    Category.SIGNAL_FAULT: (),
    Category.ILLEGAL_PARKING: (EventType.ILLEGAL_STOP, EventType.STOPPED_VEHICLE),
    Category.DANGEROUS_DRIVING: (),
    Category.ROAD_HAZARD: (),
    Category.OTHER: (),
}
"""Which camera event types show what a report of each category says happened.

Only events of the same nature are cited: a crash shows as a vehicle stopped on the road (the
cameras have no crash detector), a jam as congestion, parking as an illegal or long stop.
A broken signal, a pothole or a question has no camera event that shows it. Dangerous driving
depends on what the driver did (:data:`DRIVING_EVENT_TYPES`).
"""

DRIVING_EVENT_TYPES: Final[Mapping[str, tuple[EventType, ...]]] = {
    "wrong_way": (EventType.WRONG_WAY,),
    "red_light": (EventType.RED_LIGHT,),
    "speeding": (EventType.SPEEDING,),
    "racing": (EventType.SPEEDING,),
}
"""Dangerous-driving subtype → the event type that records that behaviour (others: none)."""


def matching_event_types(category: Category, subtype: str = "-") -> tuple[EventType, ...]:
    """The camera event types that can corroborate a report.

    Args:
        category: The report's category.
        subtype: What exactly (from the classifier), e.g. ``wrong_way``.

    Returns:
        The event types; empty when no camera event shows what the report says.
    """
    if category is Category.DANGEROUS_DRIVING:
        return DRIVING_EVENT_TYPES.get(subtype, ())
    return MATCHING_EVENT_TYPES[category]


@dataclass(frozen=True, slots=True)
class CameraSite:
    """Where a camera is and what people call the place (in Vietnamese and English if known)."""

    lat: float
    lon: float
    name: str
    name_vi: str | None = None
    name_en: str | None = None


@dataclass(frozen=True, slots=True)
class NearbyCamera:
    """A camera within the search radius of a report."""

    camera_id: str
    name: str
    distance_m: float
    name_vi: str | None = None
    name_en: str | None = None

    def label(self, language: str) -> str:
        """The camera's name in a reply's language (the configured name when none is given)."""
        named = self.name_vi if language == "vi" else self.name_en
        return named or self.name


@dataclass(frozen=True, slots=True)
class CameraEvidence:
    """One stored event that corroborates a report (every field read from the store)."""

    event_id: uuid.UUID
    camera_id: str
    camera_name: str
    distance_m: float
    type: str
    severity: str
    time: datetime
    camera: NearbyCamera | None = None
    """The camera as found near the report (its names per language)."""

    def camera_label(self, language: str) -> str:
        """The camera's name in a reply's language."""
        return self.camera.label(language) if self.camera is not None else self.camera_name


def check_coordinates(lat: float, lon: float) -> None:
    """Refuse coordinates outside the globe or not finite.

    Raises:
        ValueError: With the offending value.
    """
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"latitude must be within [-90, 90], got {lat!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude must be within [-180, 180], got {lon!r}")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (spherical Earth).

    Args:
        lat1: Latitude of the first point, degrees.
        lon1: Longitude of the first point, degrees.
        lat2: Latitude of the second point, degrees.
        lon2: Longitude of the second point, degrees.

    Returns:
        The distance in metres (error below 0.5 % against the ellipsoid).
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def nearby_cameras(
    lat: float, lon: float, cameras: Mapping[str, CameraSite], radius_m: float
) -> list[NearbyCamera]:
    """Cameras within ``radius_m`` of a point, nearest first.

    Args:
        lat: Report latitude, degrees.
        lon: Report longitude, degrees.
        cameras: Camera id → location and name.
        radius_m: Search radius in metres (> 0).

    Returns:
        The cameras in range, sorted by distance then id.

    Raises:
        ValueError: On invalid coordinates or radius.
    """
    check_coordinates(lat, lon)
    if not (math.isfinite(radius_m) and radius_m > 0):
        raise ValueError(f"radius_m must be a positive number, got {radius_m!r}")
    # a cheap box in degrees first (a bit larger than the radius), the exact distance after
    d_lat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01
    d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
    found = [
        NearbyCamera(
            cam_id,
            site.name,
            haversine_m(lat, lon, site.lat, site.lon),
            site.name_vi,
            site.name_en,
        )
        for cam_id, site in cameras.items()
        if abs(site.lat - lat) <= d_lat and abs(site.lon - lon) <= d_lon
    ]
    return sorted(
        (c for c in found if c.distance_m <= radius_m), key=lambda c: (c.distance_m, c.camera_id)
    )


_RECENT_EVENTS: Final = (
    select(
        EventRecord.event_id,
        EventRecord.camera_id,
        EventRecord.type,
        EventRecord.severity,
        EventRecord.time,
    )
    .where(EventRecord.camera_id.in_(bindparam("cameras", expanding=True)))
    .where(EventRecord.type.in_(bindparam("types", expanding=True)))
    .where(EventRecord.time >= bindparam("since"))
    .where(EventRecord.time <= bindparam("now"))
    .order_by(EventRecord.time.desc())
    .limit(bindparam("limit"))
)
"""Built once: per report only the parameters change (no per-call statement construction)."""


def recent_events(
    session: Session,
    cameras: Sequence[NearbyCamera],
    category: Category,
    now: datetime,
    *,
    subtype: str = "-",
    window: timedelta = timedelta(minutes=30),
    limit: int = 5,
) -> list[CameraEvidence]:
    """Recent stored events of the kinds that match the report on the given cameras.

    Args:
        session: An open SQLAlchemy session on the aggregator store.
        cameras: Cameras near the report (from :func:`nearby_cameras`).
        category: The report's category (with ``subtype``, decides the event types).
        now: Reference time (timezone-aware).
        subtype: What exactly the report describes (see :func:`matching_event_types`).
        window: How far back to look.
        limit: At most this many events, newest first.

    Returns:
        Evidence rows, newest first; empty when no camera or no matching type.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    types = [t.value for t in matching_event_types(category, subtype)]
    by_id = {c.camera_id: c for c in cameras}
    if not types or not by_id:
        return []
    rows = session.connection().execute(
        _RECENT_EVENTS,
        {
            "cameras": list(by_id),
            "types": types,
            "since": now - window,
            "now": now,
            "limit": limit,
        },
    )
    evidence = []
    for event_id, camera_id, type_, severity, time in rows:
        camera = by_id[camera_id]
        evidence.append(
            CameraEvidence(
                event_id=event_id,
                camera_id=camera_id,
                camera_name=camera.name,
                distance_m=camera.distance_m,
                type=type_,
                severity=severity,
                time=time,
                camera=camera,
            )
        )
    logger.debug("%d matching events near the report", len(evidence))
    return evidence
