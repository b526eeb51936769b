"""Writes a JPEG snapshot (object marked) and a crop per alert, blurred before encoding."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.detections import Detections
from edge.privacy import blur_regions, privacy_regions
from traffic_monitor.contract import Event, EventType, Evidence, Severity

logger = logging.getLogger(__name__)

ALERT_SEVERITIES = (Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
NO_EVIDENCE_TYPES = (EventType.COUNT, EventType.ZONE_OCCUPANCY, EventType.LINE_CROSSING)


class EvidenceConfig(BaseModel):
    """Where evidence goes and how large it may be."""

    model_config = ConfigDict(extra="forbid")

    directory: Path = Field(description="Folder for evidence JPEGs (one sub-folder per camera).")
    blur: bool = Field(
        default=True,
        description="Blur heads and plates. Off only with a legal basis; events record it.",
    )
    max_side: int = Field(default=960, ge=64, description="Longest side of a snapshot, pixels.")
    crop_max_side: int = Field(default=320, ge=32, description="Longest side of a crop, pixels.")
    quality: int = Field(default=80, ge=10, le=100, description="JPEG quality.")
    crop_margin: float = Field(default=0.2, ge=0, description="Margin around the crop, × box.")


class EvidenceWriter:
    """Attaches evidence to alert events (start/instant phases with severity ≥ medium)."""

    def __init__(self, config: EvidenceConfig, class_names: Sequence[str]) -> None:
        """Prepare the output folder."""
        self.config = config
        self.class_names = tuple(class_names)
        self.detections: Detections = Detections.empty()
        config.directory.mkdir(parents=True, exist_ok=True)

    def set_frame(self, detections: Detections) -> None:
        """Give the frame's tracked detections (everyone in the image is blurred)."""
        self.detections = detections

    def attach(self, events: list[Event], image: np.ndarray[Any, Any] | None) -> list[Event]:
        """Write evidence for alerts in ``events``; return events with ``evidence`` set."""
        if image is None:
            return events
        wanted = [self._wants(event) for event in events]
        if not any(wanted):
            return events
        safe = self.protect(image)
        return [
            self._write(event, safe) if want else event
            for event, want in zip(events, wanted, strict=True)
        ]

    def protect(self, image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The frame as evidence may show it: blurred unless blurring is switched off."""
        if not self.config.blur:
            return image
        return blur_regions(image, privacy_regions(self.detections, self.class_names))

    @staticmethod
    def _wants(event: Event) -> bool:
        return (
            event.type not in NO_EVIDENCE_TYPES
            and event.severity in ALERT_SEVERITIES
            and event.phase in ("start", "instant")
        )

    def _write(self, event: Event, image: np.ndarray[Any, Any]) -> Event:
        folder = self.config.directory / event.camera_id
        folder.mkdir(parents=True, exist_ok=True)
        snapshot = image.copy()
        bbox = event.geometry.bbox
        crop_written = False
        if bbox is not None:
            x1, y1, x2, y2 = (round(v) for v in bbox)
            cv2.rectangle(snapshot, (x1, y1), (x2, y2), (0, 0, 255), 2)
            crop = self._crop(image, bbox)
            if crop is not None:
                crop_written = self._save(
                    folder / f"{event.event_id}_crop.jpg", crop, self.config.crop_max_side
                )
        snap_written = self._save(folder / f"{event.event_id}.jpg", snapshot, self.config.max_side)
        evidence = Evidence(snapshot=snap_written, crop=crop_written, blurred=self.config.blur)
        attributes = {**event.attributes, "evidence_path": str(folder / f"{event.event_id}.jpg")}
        return event.model_copy(update={"evidence": evidence, "attributes": attributes})

    def _crop(
        self, image: np.ndarray[Any, Any], bbox: tuple[float, float, float, float]
    ) -> np.ndarray[Any, Any] | None:
        x1, y1, x2, y2 = bbox
        mx, my = (x2 - x1) * self.config.crop_margin, (y2 - y1) * self.config.crop_margin
        h, w = image.shape[:2]
        left, top = max(int(x1 - mx), 0), max(int(y1 - my), 0)
        right, bottom = min(int(x2 + mx), w), min(int(y2 + my), h)
        if right - left < 2 or bottom - top < 2:
            return None
        return image[top:bottom, left:right]

    def _save(self, path: Path, image: np.ndarray[Any, Any], max_side: int) -> bool:
        scale = max_side / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.config.quality])
        if not ok:
            logger.warning("could not encode evidence %s", path)
            return False
        path.write_bytes(data.tobytes())
        return True
