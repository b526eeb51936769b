"""Method 3: automatic calibration from vehicle tracks.

In the spirit of the vanishing-point methods evaluated on BrnoCompSpeed (Dubská et al.,
"Automatic camera calibration for traffic understanding", BMVC 2014; Sochor et al., 2017):

1. the first vanishing point (road direction) is where the straight tracks of vehicles meet;
2. with square pixels, the principal point at the image centre and no roll, the horizon
   is the image row of that point, and the vertical vanishing point lies straight below the
   centre; its height comes from the near-vertical edges of the vehicles, and fixes the focal
   length: ``f² = (cy - y_horizon) (y_vertical - cy)``;
3. the scale comes from the mean width of the vehicles (box widths at the ground line).

Assumptions (each a source of error on real cameras): straight road, flat road, no roll,
centred principal point, no lens distortion, a known mean vehicle width.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calibration.camera import CalibrationError, CameraModel, FloatArray
from calibration.pinhole import PinholeMount

logger = logging.getLogger(__name__)

MEAN_CAR_WIDTH_M = 1.8
"""Mean width of passenger cars (most are 1.7–1.85 m)."""

MIN_TRACK_EXTENT_PX = 40.0
"""Tracks that move less than this tell nothing about the road direction."""

MAX_TRACK_CURVATURE = 0.03
"""Tracks whose points stray more than this share of their length off a line are turning."""

MIN_FOCAL_WIDTHS, MAX_FOCAL_WIDTHS = 0.3, 3.0
"""Plausible focal lengths in image widths (horizontal field of view ~19° to ~118°)."""

VERTICAL_TOLERANCE_DEG = 20.0
"""Edges within this angle of the image vertical count as vertical edges of vehicles."""


@dataclass(frozen=True)
class AutoResult:
    """Method 3 output and its intermediate estimates."""

    model: CameraModel
    vp_road: tuple[float, float]
    vp_vertical_y: float
    focal_px: float
    pitch_deg: float
    yaw_deg: float
    height_m: float
    tracks_used: int
    edges_used: int


def _track_line(points: FloatArray) -> tuple[FloatArray, float] | None:
    """Homogeneous line through a straight track and its length (None: too short/curved)."""
    centre = points.mean(axis=0)
    _, singular, vt = np.linalg.svd(points - centre)
    extent = float(np.ptp((points - centre) @ vt[0]))
    if extent < MIN_TRACK_EXTENT_PX:
        return None
    if singular[1] / np.sqrt(len(points)) > MAX_TRACK_CURVATURE * extent:
        return None
    normal = vt[1]
    return np.array([normal[0], normal[1], -float(normal @ centre)]), extent


def road_vanishing_point(tracks: list[FloatArray]) -> tuple[tuple[float, float], int]:
    """Least-squares meeting point of straight tracks (anchor points ``(N, 2)`` each).

    Returns:
        The point and how many tracks were used.

    Raises:
        CalibrationError: Fewer than two usable tracks, or parallel tracks.
    """
    lines = [line for track in tracks if len(track) >= 5 and (line := _track_line(track))]
    if len(lines) < 2:
        raise CalibrationError(f"need two or more long straight tracks, found {len(lines)}")
    a = np.array([line[0][:2] for line in lines])
    b = -np.array([line[0][2] for line in lines])
    w = np.sqrt(np.array([line[1] for line in lines]))
    keep = np.ones(len(lines), bool)
    for _ in range(3):  # drop tracks that miss the common point (id switches, turns)
        if keep.sum() < 2 or np.linalg.cond(a[keep] * w[keep, None]) > 1e8:
            raise CalibrationError("the tracks are parallel in the image: no vanishing point")
        solution, *_ = np.linalg.lstsq(a[keep] * w[keep, None], b[keep] * w[keep], rcond=None)
        miss = np.abs(a @ solution - b)
        keep = miss <= max(5.0, 2.5 * float(np.median(miss[keep])))
    lines = [line for line, kept in zip(lines, keep, strict=True) if kept]
    return (float(solution[0]), float(solution[1])), len(lines)


def vertical_edges(image: npt.NDArray[np.uint8], boxes: FloatArray) -> FloatArray:
    """Near-vertical edge segments ``(M, 4)`` ``x1, y1, x2, y2`` inside vehicle boxes."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    out: list[FloatArray] = []
    height, width = grey.shape[:2]
    for box in boxes:
        x1, y1 = max(int(box[0]) - 3, 0), max(int(box[1]) - 3, 0)
        x2, y2 = min(int(box[2]) + 4, width), min(int(box[3]) + 4, height)
        if x2 - x1 < 10 or y2 - y1 < 10:
            continue
        edges = cv2.Canny(grey[y1:y2, x1:x2], 50, 150)
        min_length = max(8, int(0.4 * (y2 - y1)))
        found = cv2.HoughLinesP(edges, 1, np.pi / 360, 12, minLineLength=min_length, maxLineGap=2)
        if found is None:
            continue
        for sx1, sy1, sx2, sy2 in np.asarray(found, dtype=np.float64).reshape(-1, 4):
            angle = np.degrees(np.arctan2(abs(sx2 - sx1), abs(sy2 - sy1)))
            if angle <= VERTICAL_TOLERANCE_DEG:
                out.append(np.array([sx1 + x1, sy1 + y1, sx2 + x1, sy2 + y1]))
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)


def vertical_vanishing_row(edges: FloatArray, image_size: tuple[int, int]) -> float:
    """Row of the vertical vanishing point below the centre (robust 1-D search).

    Raises:
        CalibrationError: Too few edges, or edges that do not converge below the image.
    """
    if len(edges) < 10:
        raise CalibrationError(f"need at least 10 vertical vehicle edges, found {len(edges)}")
    width, height = image_size
    cx, cy = width / 2.0, height / 2.0
    dx, dy = edges[:, 2] - edges[:, 0], edges[:, 3] - edges[:, 1]
    flip = dy < 0
    dx[flip], dy[flip] = -dx[flip], -dy[flip]
    slope = dx / dy
    xm = (edges[:, 0] + edges[:, 2]) / 2 - cx
    ym = (edges[:, 1] + edges[:, 3]) / 2 - cy
    weight = np.hypot(dx, dy)
    inverse = np.linspace(1e-6, 4.0 / height, 4000)  # k = 1 / (y_vertical - cy)
    predicted = -inverse[:, None] * xm[None] / (1.0 - inverse[:, None] * ym[None])
    scale = 0.03
    cost = (weight[None] * np.log1p(((slope[None] - predicted) / scale) ** 2)).sum(axis=1)
    best = int(np.argmin(cost))
    if best in (0, len(inverse) - 1):
        raise CalibrationError("the vehicle edges do not converge to a point below the image")
    return float(cy + 1.0 / inverse[best])


def _yaw_for(vp_x: float, focal: float, pitch: float, image_size: tuple[int, int]) -> float:
    low, high = -80.0, 80.0
    for _ in range(60):
        mid = (low + high) / 2
        mount = PinholeMount(focal, image_size, 1.0, pitch, yaw_deg=mid)
        x = mount.project(np.array([[0.0, 1e7, 0.0]]))[0, 0]
        if x > vp_x:
            high = mid
        else:
            low = mid
    return (low + high) / 2


def calibrate_from_tracks(
    tracks: list[tuple[FloatArray, FloatArray]],
    edges: FloatArray,
    image_size: tuple[int, int],
    mean_width_m: float = MEAN_CAR_WIDTH_M,
    focal_px: float | None = None,
) -> AutoResult:
    """Calibrate from vehicle tracks (method 3).

    Args:
        tracks: Per track: anchors ``(N, 2)`` (bottom centres of boxes) and box widths ``(N,)``.
        edges: Near-vertical vehicle edge segments (see :func:`vertical_edges`).
        image_size: ``(width, height)``.
        mean_width_m: Assumed mean vehicle width, the only metric input.
        focal_px: Focal length from the camera's datasheet (field of view); when given,
            the vertical edges are not used.

    Raises:
        CalibrationError: Not enough tracks or edges, or a geometry no camera can have.
    """
    vp, used = road_vanishing_point([anchors for anchors, _ in tracks])
    cy = image_size[1] / 2.0
    if vp[1] >= cy:
        raise CalibrationError("the road vanishes below the image centre: the camera looks up?")
    if focal_px is None:
        y_vertical = vertical_vanishing_row(edges, image_size)
        focal = float(np.sqrt((cy - vp[1]) * (y_vertical - cy)))
    else:
        focal = focal_px
        y_vertical = cy + focal * focal / (cy - vp[1])
    width = image_size[0]
    if not MIN_FOCAL_WIDTHS * width <= focal <= MAX_FOCAL_WIDTHS * width:
        raise CalibrationError(
            f"the vehicle edges imply a focal length of {focal:.0f} px "
            f"({focal / width:.1f} image widths), outside what traffic cameras have: the "
            "vertical vanishing point is not observable here (low tilt); give focal_px"
        )
    pitch = float(np.degrees(np.arctan2(cy - vp[1], focal)))
    yaw = _yaw_for(vp[0], focal, pitch, image_size)
    unit = PinholeMount(focal, image_size, 1.0, pitch, yaw_deg=yaw).camera_model()
    widths_unit = []
    for anchors, box_widths in tracks:
        left = anchors - np.column_stack([box_widths / 2, np.zeros(len(anchors))])
        right = anchors + np.column_stack([box_widths / 2, np.zeros(len(anchors))])
        span = np.linalg.norm(unit.image_to_world(right) - unit.image_to_world(left), axis=1)
        span = span[np.isfinite(span)]
        if len(span):
            widths_unit.append(float(np.median(span)))
    if not widths_unit:
        raise CalibrationError("no vehicle widths to set the scale")
    camera_height = mean_width_m / float(np.median(widths_unit))
    mount = PinholeMount(focal, image_size, camera_height, pitch, yaw_deg=yaw)
    logger.info(
        "auto calibration: f %.0f px, pitch %.1f°, yaw %.1f°, height %.2f m from %d tracks",
        focal,
        pitch,
        yaw,
        camera_height,
        used,
    )
    return AutoResult(
        model=mount.camera_model(),
        vp_road=vp,
        vp_vertical_y=y_vertical,
        focal_px=focal,
        pitch_deg=pitch,
        yaw_deg=yaw,
        height_m=camera_height,
        tracks_used=used,
        edges_used=len(edges),
    )


class TrackRecord(BaseModel):
    """One vehicle track in a tracks file: bottom-centre anchors and box widths per frame."""

    model_config = ConfigDict(extra="forbid")

    anchors: list[tuple[float, float]] = Field(
        min_length=2, description="Bottom centres (x, y) of the vehicle's boxes, pixels."
    )
    widths: list[float] = Field(min_length=2, description="Box widths, pixels, one per anchor.")


class TracksInput(BaseModel):
    """Input of method 3 (``traffic-monitor calibrate --tracks``): tracks of a few minutes."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["auto_tracks"] = Field(default="auto_tracks", description="Method 3.")
    image_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) the tracks were measured on; default: frame."
    )
    tracks: list[TrackRecord] = Field(min_length=1, description="Vehicle tracks.")
    edges: list[tuple[float, float, float, float]] = Field(
        default_factory=list,
        description="Near-vertical vehicle edge segments x1, y1, x2, y2 (vertical vanishing).",
    )
    focal_px: float | None = Field(
        default=None,
        gt=0,
        description="Focal length from the datasheet; the edges are then unused.",
    )
    mean_width_m: float = Field(
        default=MEAN_CAR_WIDTH_M, gt=0.5, lt=5.0, description="Mean width of the tracked vehicles."
    )

    def track_arrays(self) -> list[tuple[FloatArray, FloatArray]]:
        """Tracks as arrays for :func:`calibrate_from_tracks`.

        Raises:
            CalibrationError: A track has different numbers of anchors and widths.
        """
        out = []
        for index, track in enumerate(self.tracks):
            if len(track.anchors) != len(track.widths):
                raise CalibrationError(
                    f"track {index}: {len(track.anchors)} anchors but {len(track.widths)} widths"
                )
            out.append(
                (np.asarray(track.anchors, np.float64), np.asarray(track.widths, np.float64))
            )
        return out

    def calibrate(self, image_size: tuple[int, int]) -> AutoResult:
        """Run method 3 on this input (``image_size`` when the file gives none).

        Raises:
            CalibrationError: The frame size differs from the file's, or method 3 refuses.
        """
        if self.image_size is not None and tuple(self.image_size) != tuple(image_size):
            raise CalibrationError(
                f"tracks were measured on {self.image_size[0]}x{self.image_size[1]} frames, "
                f"the frame is {image_size[0]}x{image_size[1]}"
            )
        edges = np.asarray(self.edges, dtype=np.float64).reshape(-1, 4)
        return calibrate_from_tracks(
            self.track_arrays(), edges, image_size, self.mean_width_m, self.focal_px
        )


def read_tracks(path: Path) -> TracksInput:
    """Read a tracks file (YAML, or JSON by suffix ``.json``).

    Raises:
        CalibrationError: Missing, unreadable or invalid file (fields named).
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise CalibrationError(f"cannot read tracks file {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CalibrationError(f"{path}: not valid YAML/JSON: {exc}") from exc
    try:
        return TracksInput.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in item['loc']) or '(top level)'}: {item['msg']}"
            for item in exc.errors()[:5]
        ]
        raise CalibrationError(f"{path}: invalid tracks file:\n  " + "\n  ".join(problems)) from exc
