"""Evidence of an alert: a JPEG snapshot (object marked) and a crop, blurred before encoding.

The images travel with their event (:class:`edge.pipeline.sink.OutgoingEvent`): the sink
that keeps the event keeps its images in the same transaction, so no node-local path ever
goes on the wire. A copy can also be written to a local folder. Each image is bounded in
pixels and in bytes; ``Event.evidence`` says which images came out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.detections import Detections
from edge.pipeline.sink import EvidenceImage, OutgoingEvent
from edge.privacy import blur_regions, privacy_regions
from traffic_monitor.contract import (
    MAX_SNAPSHOT_BYTES,
    Event,
    EventType,
    Evidence,
    Severity,
    SnapshotKind,
)

logger = logging.getLogger(__name__)

ALERT_SEVERITIES = (Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
NO_EVIDENCE_TYPES = (
    EventType.COUNT,
    EventType.ZONE_OCCUPANCY,
    EventType.LINE_CROSSING,
    EventType.CAMERA_STATUS,
)
MIN_QUALITY = 30
"""Lowest JPEG quality tried to fit an image into ``max_bytes`` before shrinking it."""
_SHRINK = 0.75
_MAX_ATTEMPTS = 8


class EvidenceConfig(BaseModel):
    """How evidence images are made, how large they may be, and an optional local copy."""

    model_config = ConfigDict(extra="forbid")

    directory: Path | None = Field(
        default=None,
        description="Also write the JPEGs here (one sub-folder per camera); empty: images "
        "only travel with their events.",
    )
    max_side: int = Field(default=960, ge=64, description="Longest side of a snapshot, pixels.")
    crop_max_side: int = Field(default=320, ge=32, description="Longest side of a crop, pixels.")
    quality: int = Field(
        default=80,
        ge=MIN_QUALITY,
        le=100,
        description="JPEG quality. Higher shows more detail and costs bytes on the uplink.",
    )
    max_bytes: int = Field(
        default=250_000,
        ge=10_000,
        le=MAX_SNAPSHOT_BYTES,
        description="Largest JPEG, bytes: a larger one is re-encoded at lower quality, then "
        "smaller; one that cannot fit is left out (and the event says so).",
    )
    crop_margin: float = Field(default=0.2, ge=0, description="Margin around the crop, × box.")


class EvidenceWriter:
    """Encodes the evidence of alert events (start/instant phases with severity ≥ medium)."""

    def __init__(
        self, config: EvidenceConfig, class_names: Sequence[str], *, blur: bool = True
    ) -> None:
        """Prepare the local folder, if any.

        Args:
            config: Sizes, quality and the optional local folder.
            class_names: The detector's class names (which regions to blur per class).
            blur: Blur heads and plates (the scene's ``privacy_blur``); off only with a
                legal basis, and events record it.
        """
        self.config = config
        self.class_names = tuple(class_names)
        self.blur = blur
        if config.directory is not None:
            config.directory.mkdir(parents=True, exist_ok=True)

    def attach(
        self,
        events: Sequence[Event],
        image: np.ndarray[Any, Any] | None,
        detections: Detections,
    ) -> list[OutgoingEvent]:
        """The events with the evidence images of the alerts among them.

        Args:
            events: One frame's events.
            image: The frame (None: no images).
            detections: Every road user in the frame (all are blurred, not only the subject).

        Returns:
            One :class:`OutgoingEvent` per event, in order; an alert's ``evidence`` says which
            of its images were encoded.
        """
        wanted = [self.wants(event) for event in events]
        if image is None or not any(wanted):
            return [OutgoingEvent(event) for event in events]
        safe = self.protect(image, detections)
        return [
            self._encode(event, safe) if want else OutgoingEvent(event)
            for event, want in zip(events, wanted, strict=True)
        ]

    def protect(self, image: np.ndarray[Any, Any], detections: Detections) -> np.ndarray[Any, Any]:
        """The frame as evidence may show it: blurred unless blurring is switched off."""
        if not self.blur:
            return image
        return blur_regions(image, privacy_regions(detections, self.class_names))

    @staticmethod
    def wants(event: Event) -> bool:
        """Whether an event gets evidence images (alerts as they start)."""
        return (
            event.type not in NO_EVIDENCE_TYPES
            and event.severity in ALERT_SEVERITIES
            and event.phase in ("start", "instant")
        )

    def _encode(self, event: Event, image: np.ndarray[Any, Any]) -> OutgoingEvent:
        images: list[EvidenceImage] = []
        snapshot = image.copy()
        bbox = event.geometry.bbox
        if bbox is not None:
            x1, y1, x2, y2 = (round(v) for v in bbox)
            cv2.rectangle(snapshot, (x1, y1), (x2, y2), (0, 0, 255), 2)
            crop = self._crop(image, bbox)
            if crop is not None:
                images += self._image(SnapshotKind.CROP, crop, self.config.crop_max_side)
        images += self._image(SnapshotKind.SNAPSHOT, snapshot, self.config.max_side)
        kinds = {item.kind for item in images}
        evidence = Evidence(
            snapshot=SnapshotKind.SNAPSHOT in kinds,
            crop=SnapshotKind.CROP in kinds,
            blurred=self.blur,
        )
        stamped = event.model_copy(update={"evidence": evidence})
        self._keep_local(stamped, images)
        return OutgoingEvent(stamped, tuple(images))

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

    def _image(
        self, kind: SnapshotKind, image: np.ndarray[Any, Any], max_side: int
    ) -> list[EvidenceImage]:
        """The image as one bounded JPEG, or nothing when it cannot be made small enough."""
        jpeg = encode_bounded(image, max_side, self.config.quality, self.config.max_bytes)
        if jpeg is None:
            limit = self.config.max_bytes
            logger.warning("evidence %s left out: no JPEG under %d bytes", kind, limit)
            return []
        return [EvidenceImage(kind, jpeg)]

    def _keep_local(self, event: Event, images: Sequence[EvidenceImage]) -> None:
        if self.config.directory is None or not images:
            return
        folder = self.config.directory / event.camera_id
        folder.mkdir(parents=True, exist_ok=True)
        for item in images:
            suffix = "" if item.kind is SnapshotKind.SNAPSHOT else f"_{item.kind.value}"
            (folder / f"{event.event_id}{suffix}.jpg").write_bytes(item.jpeg)


def encode_bounded(
    image: np.ndarray[Any, Any], max_side: int, quality: int, max_bytes: int
) -> bytes | None:
    """JPEG bytes of ``image`` with its longest side ≤ ``max_side`` and at most ``max_bytes``.

    Lowers the quality first (down to :data:`MIN_QUALITY`), then the size; None when no
    attempt fits (a pathological image).
    """
    scale = min(max_side / max(image.shape[:2]), 1.0)
    for _ in range(_MAX_ATTEMPTS):
        sized = image
        if scale < 1:
            sized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", sized, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and data.size <= max_bytes:
            return bytes(data.tobytes())
        if quality > MIN_QUALITY:
            quality = max(MIN_QUALITY, int(quality * _SHRINK))
        else:
            scale *= _SHRINK
    return None
