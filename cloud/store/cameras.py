"""Camera positions in the store: registered from the scene configs, read by the map and reports.

Each camera also belongs to one edge node (``node_id``), the only one whose messages for it
the consumer accepts (:func:`camera_owners`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import CameraRecord
from traffic_monitor.contract.events import SEGMENT_PATTERN

logger = logging.getLogger(__name__)


class CameraPosition(BaseModel):
    """Where one camera stands (the ``camera:`` section of a scene config)."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str = Field(min_length=1, max_length=64, description="Camera id used in events.")
    site_id: str = Field(min_length=1, max_length=64, description="Site of the camera.")
    node_id: str | None = Field(
        default=None,
        pattern=SEGMENT_PATTERN,
        description="Edge node allowed to publish for the camera (None: keep the one stored, "
        "or bind the first node seen).",
    )
    name: str = Field(default="", max_length=200, description="Human-readable place name.")
    name_vi: str = Field(default="", max_length=200, description="Vietnamese place name.")
    name_en: str = Field(default="", max_length=200, description="English place name.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, WGS84.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, WGS84.")
    heading_deg: float | None = Field(
        default=None, ge=0, lt=360, description="Compass heading of the view (0 = north)."
    )


def upsert_cameras(session: Session, cameras: Iterable[CameraPosition]) -> int:
    """Insert or update camera rows (the caller commits).

    Args:
        session: An open session on the store.
        cameras: Positions to register; a camera already stored is overwritten.

    Returns:
        How many cameras were written.
    """
    now = datetime.now(UTC)
    written = 0
    for cam in cameras:
        record = session.get(CameraRecord, cam.camera_id) or CameraRecord(camera_id=cam.camera_id)
        record.site_id = cam.site_id
        if cam.node_id is not None:
            record.node_id = cam.node_id
        record.name = cam.name
        record.name_vi, record.name_en = cam.name_vi, cam.name_en
        record.lat, record.lon, record.heading_deg = cam.lat, cam.lon, cam.heading_deg
        record.updated_at = now
        session.add(record)
        written += 1
    logger.info("%d camera positions registered", written)
    return written


def camera_positions(session: Session) -> list[CameraPosition]:
    """Every registered camera, by id."""
    rows: Sequence[CameraRecord] = session.scalars(
        select(CameraRecord).order_by(CameraRecord.camera_id)
    ).all()
    return [
        CameraPosition(
            camera_id=r.camera_id,
            site_id=r.site_id,
            node_id=r.node_id,
            name=r.name,
            name_vi=r.name_vi,
            name_en=r.name_en,
            lat=r.lat,
            lon=r.lon,
            heading_deg=r.heading_deg,
        )
        for r in rows
    ]


def camera_owners(session: Session) -> dict[str, tuple[str, str | None]]:
    """Camera id → (site, node or None) of every registered camera."""
    rows = session.execute(
        select(CameraRecord.camera_id, CameraRecord.site_id, CameraRecord.node_id)
    ).all()
    return {camera: (site, node) for camera, site, node in rows}
