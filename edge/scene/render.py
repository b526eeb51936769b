"""Draw a scene's geometry over a frame so a person can check it (``edge check-config``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.scene.config import SceneConfig
from traffic_monitor.contract.placement import ZoneKind
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

Image = np.ndarray[Any, Any]

ZONE_COLOURS: dict[ZoneKind, tuple[int, int, int]] = {
    ZoneKind.CARRIAGEWAY: (160, 160, 160),
    ZoneKind.SIDEWALK: (0, 200, 255),
    ZoneKind.CROSSWALK: (255, 255, 255),
    ZoneKind.NO_STOPPING: (0, 0, 255),
    ZoneKind.INTERSECTION: (255, 0, 255),
    ZoneKind.BUS_LANE: (0, 128, 255),
    ZoneKind.MOTORBIKE_LANE: (255, 200, 0),
    ZoneKind.STOP_ZONE: (0, 255, 255),
    ZoneKind.OTHER: (200, 200, 0),
}
LINE_COLOUR = (0, 255, 0)
LANE_COLOUR = (255, 128, 0)
STOP_COLOUR = (0, 0, 255)
ROI_COLOUR = (0, 255, 255)
CROP_COLOUR = (255, 0, 255)


def _pt(point: tuple[float, float]) -> tuple[int, int]:
    return round(point[0]), round(point[1])


def _label(image: Image, text: str, at: tuple[float, float], colour: tuple[int, int, int]) -> None:
    x, y = _pt(at)
    cv2.putText(image, text, (x + 1, y + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 2)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)


def _directed_line(
    image: Image,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    positive: str,
    colour: tuple[int, int, int],
    label: str,
) -> None:
    cv2.line(image, _pt(start), _pt(end), colour, 2)
    direction = np.subtract(end, start).astype(np.float64)
    normal = np.array([direction[1], -direction[0]]) / (np.hypot(*direction) or 1.0)
    if positive == "right":
        normal = -normal
    middle = (np.add(start, end) / 2).astype(np.float64)
    tip = middle + 30 * normal
    cv2.arrowedLine(image, _pt(tuple(middle)), _pt(tuple(tip)), colour, 2, tipLength=0.35)
    _label(image, f"{label} (in)", tuple(tip + 4 * normal), colour)


def _draw_roi(image: Image, roi: list[tuple[float, float]]) -> None:
    """Darken everything outside the region of interest and outline it."""
    polygon = np.round(np.asarray(roi)).astype(np.int32)
    outside = np.full(image.shape[:2], 255, np.uint8)
    cv2.fillPoly(outside, [polygon], 0)
    image[outside > 0] = (image[outside > 0] * 0.4).astype(image.dtype)
    cv2.polylines(image, [polygon], True, ROI_COLOUR, 2)
    top = polygon[np.argmin(polygon[:, 1])]
    _label(image, "ROI (detections outside are ignored)", (top[0], top[1] + 14), ROI_COLOUR)


def _draw_crop(image: Image, crop: tuple[int, int, int, int]) -> None:
    """Outline the rectangle the detector sees (``source.crop``)."""
    x, y, width, height = crop
    cv2.rectangle(image, (x, y), (x + width - 1, y + height - 1), CROP_COLOUR, 2)
    _label(image, "crop (the detector sees only this)", (x + 4, y + 16), CROP_COLOUR)


def render_scene(scene: SceneConfig, frame: Image) -> Image:
    """Return a copy of ``frame`` with the crop, ROI, zones, lines, lanes, stop lines, signals."""
    image = frame.copy()
    if scene.source.crop is not None:
        _draw_crop(image, scene.source.crop)
    if scene.roi is not None:
        _draw_roi(image, scene.roi)
    overlay = image.copy()
    for zone in scene.zones:
        polygon = np.round(np.asarray(zone.polygon)).astype(np.int32)
        cv2.fillPoly(overlay, [polygon], ZONE_COLOURS[zone.kind])
    cv2.addWeighted(overlay, 0.25, image, 0.75, 0, dst=image)
    for zone in scene.zones:
        polygon = np.round(np.asarray(zone.polygon)).astype(np.int32)
        cv2.polylines(image, [polygon], True, ZONE_COLOURS[zone.kind], 1)
        _label(
            image,
            f"{zone.name} [{zone.kind.value}]",
            tuple(polygon.mean(axis=0)),
            ZONE_COLOURS[zone.kind],
        )
    for lane in scene.lanes:
        polygon = np.round(np.asarray(lane.polygon)).astype(np.int32)
        cv2.polylines(image, [polygon], True, LANE_COLOUR, 1)
        cv2.arrowedLine(
            image, _pt(lane.direction[0]), _pt(lane.direction[1]), LANE_COLOUR, 2, tipLength=0.15
        )
        _label(image, f"lane {lane.name}", lane.direction[0], LANE_COLOUR)
    for line in scene.lines:
        _directed_line(
            image, line.start, line.end, positive=line.positive, colour=LINE_COLOUR, label=line.name
        )
    for stop in scene.stop_lines:
        _directed_line(
            image,
            stop.start,
            stop.end,
            positive=stop.positive,
            colour=STOP_COLOUR,
            label=f"{stop.name}/{stop.signal}",
        )
    for signal in scene.signals:
        if signal.region is not None:
            x, y, w, h = signal.region
            cv2.rectangle(image, (x, y), (x + w, y + h), STOP_COLOUR, 2)
            _label(image, f"signal {signal.id}", (x, y - 4), STOP_COLOUR)
    return image


def read_frame(path: Path, index: int = 0) -> Image:
    """Read an image file, or frame ``index`` of a video file.

    Raises:
        UserFacingError: The file cannot be read as an image or video frame.
    """
    if not path.exists():
        raise UserFacingError(f"frame source {path} does not exist")
    image = cv2.imread(str(path))
    if image is not None:
        return image
    capture = cv2.VideoCapture(str(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
    finally:
        capture.release()
    if not ok or image is None:
        raise UserFacingError(f"cannot read an image or frame {index} from {path}")
    return np.asarray(image)


def check_frame_size(scene: SceneConfig, frame: Image) -> None:
    """Raise when the frame size differs from the configured ``camera.frame_size``.

    Raises:
        UserFacingError: Geometry drawn for another resolution would be in the wrong place.
    """
    expected = scene.camera.frame_size
    actual = (frame.shape[1], frame.shape[0])
    if expected is not None and tuple(expected) != actual:
        raise UserFacingError(
            f"camera.frame_size is {expected[0]}x{expected[1]} but the frame is "
            f"{actual[0]}x{actual[1]}: the geometry is in the pixels of another resolution"
        )


def out_of_frame(scene: SceneConfig, frame: Image) -> list[str]:
    """Names of geometry items with points outside the frame (likely mistakes)."""
    height, width = frame.shape[:2]
    problems = []
    items: list[tuple[str, list[tuple[float, float]]]] = [
        (f"zones.{z.name}", list(z.polygon)) for z in scene.zones
    ]
    items += [(f"lines.{line.name}", [line.start, line.end]) for line in scene.lines]
    items += [(f"lanes.{lane.name}", list(lane.polygon)) for lane in scene.lanes]
    items += [(f"stop_lines.{s.name}", [s.start, s.end]) for s in scene.stop_lines]
    if scene.roi is not None:
        items.append(("roi", list(scene.roi)))
    if scene.source.crop is not None:
        x, y, crop_width, crop_height = scene.source.crop
        items.append(("source.crop", [(x, y), (x + crop_width, y + crop_height)]))
    for name, points in items:
        if any(not (0 <= x <= width and 0 <= y <= height) for x, y in points):
            problems.append(name)
    return problems
