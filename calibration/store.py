"""The stored calibration: a versioned YAML or JSON file beside the camera config."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from calibration.camera import CalibrationError, CameraModel, LensModel
from calibration.fit import FitResult

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Bump when a field changes meaning; loaders refuse versions they do not know."""

Method = Literal["points", "road_geometry", "auto_tracks", "manual"]


def _check_matrix(value: list[list[float]], rows: int, cols: int, name: str) -> list[list[float]]:
    if len(value) != rows or any(len(row) != cols for row in value):
        raise ValueError(f"{name} must be {rows}x{cols}")
    if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
        raise ValueError(f"{name} holds non-finite numbers")
    return value


class LensParams(BaseModel):
    """Intrinsics and distortion of the lens (OpenCV conventions)."""

    model_config = ConfigDict(extra="forbid")

    camera_matrix: list[list[float]] = Field(description="3x3 K: fx, 0, cx / 0, fy, cy / 0, 0, 1.")
    dist_coeffs: list[float] = Field(description="OpenCV distortion k1, k2, p1, p2[, k3, ...].")

    @field_validator("camera_matrix")
    @classmethod
    def _k(cls, value: list[list[float]]) -> list[list[float]]:
        return _check_matrix(value, 3, 3, "camera_matrix")


class PointErrorRecord(BaseModel):
    """The fit error at one calibration point."""

    model_config = ConfigDict(extra="forbid")

    image: tuple[float, float] = Field(description="Given image point, pixels (x, y).")
    world: tuple[float, float] = Field(description="Given road-plane point, metres (x, y).")
    error_px: float = Field(description="Reprojection error in the image, pixels.")
    error_m: float = Field(description="Error on the road plane, metres.")
    inlier: bool = Field(description="Whether the robust fit used this point.")


class ErrorSummary(BaseModel):
    """How well the calibration fits its own input."""

    model_config = ConfigDict(extra="forbid")

    rms_px: float | None = Field(default=None, description="RMS reprojection error, pixels.")
    rms_m: float | None = Field(default=None, description="RMS road-plane error, metres.")
    points: list[PointErrorRecord] = Field(
        default_factory=list, description="Per-point errors (method 1) or check points."
    )


class GeoReference(BaseModel):
    """Where the local metric frame sits on the Earth, when built from lat/lon."""

    model_config = ConfigDict(extra="forbid")

    origin_lat: float = Field(ge=-90, le=90, description="Latitude of the local origin, degrees.")
    origin_lon: float = Field(
        ge=-180, le=180, description="Longitude of the local origin, degrees."
    )
    axes: Literal["east_north"] = Field(
        default="east_north", description="x points east and y north, metres."
    )


class CalibrationFile(BaseModel):
    """One camera's calibration as stored on disk (YAML or JSON)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = Field(default=1, description="Schema version of this file.")
    camera_id: str = Field(default="", description="Camera this calibration belongs to.")
    method: Method = Field(description="How it was made: points, road_geometry, auto_tracks.")
    created: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="When it was made (UTC)."
    )
    image_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) of the frames it was made on."
    )
    homography: list[list[float]] = Field(
        description="3x3 matrix: undistorted image pixels to road-plane metres."
    )
    road_point: tuple[float, float] | None = Field(
        default=None, description="A pixel on the visible road (fixes the side of the horizon)."
    )
    lens: LensParams | None = Field(default=None, description="Lens distortion undone first.")
    geo: GeoReference | None = Field(default=None, description="Earth position of the frame.")
    errors: ErrorSummary = Field(
        default_factory=ErrorSummary, description="Fit errors of this calibration."
    )
    notes: str = Field(default="", description="Free text: source frame, assumptions.")

    @field_validator("homography")
    @classmethod
    def _h(cls, value: list[list[float]]) -> list[list[float]]:
        return _check_matrix(value, 3, 3, "homography")

    def camera_model(self) -> CameraModel:
        """Build the :class:`CameraModel` this file describes."""
        lens = None
        if self.lens is not None:
            lens = LensModel(np.asarray(self.lens.camera_matrix), np.asarray(self.lens.dist_coeffs))
        return CameraModel(
            self.homography, lens=lens, image_size=self.image_size, road_point=self.road_point
        )


def from_fit(
    result: FitResult,
    method: Method,
    camera_id: str = "",
    geo: GeoReference | None = None,
    notes: str = "",
) -> CalibrationFile:
    """Describe a fitted model and its errors as a storable file."""
    model = result.model
    lens = None
    if model.lens is not None:
        lens = LensParams(
            camera_matrix=model.lens.camera_matrix.tolist(),
            dist_coeffs=model.lens.dist_coeffs.tolist(),
        )
    records = [
        PointErrorRecord(
            image=r.image, world=r.world, error_px=r.error_px, error_m=r.error_m, inlier=r.inlier
        )
        for r in result.residuals
    ]
    errors = ErrorSummary(
        rms_px=_finite_or_none(result.rms_px), rms_m=_finite_or_none(result.rms_m), points=records
    )
    return CalibrationFile(
        camera_id=camera_id,
        method=method,
        image_size=model.image_size,
        homography=model.homography.tolist(),
        road_point=model.road_point,
        lens=lens,
        geo=geo,
        errors=errors,
        notes=notes,
    )


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None


def save_calibration(calibration: CalibrationFile, path: Path) -> None:
    """Write the calibration as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
    data = calibration.model_dump(mode="json")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    logger.info("wrote calibration %s (%s)", path, calibration.method)


def read_calibration(path: Path) -> CalibrationFile:
    """Read and validate a stored calibration file.

    Raises:
        CalibrationError: Missing file, unreadable YAML/JSON, unknown version or bad fields.
    """
    if not path.is_file():
        raise CalibrationError(f"calibration file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CalibrationError(f"{path}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise CalibrationError(f"{path}: expected a mapping at the top level")
    version = raw.get("version")
    if version != SCHEMA_VERSION:
        raise CalibrationError(
            f"{path}: calibration version {version!r} is not supported (this build reads "
            f"version {SCHEMA_VERSION})"
        )
    try:
        return CalibrationFile.model_validate(raw)
    except ValidationError as exc:
        raise CalibrationError(f"{path}: invalid calibration: {exc}") from exc


def load_calibration(path: Path | str) -> CameraModel:
    """Load a stored calibration and return its :class:`CameraModel`.

    Raises:
        CalibrationError: See :func:`read_calibration`.
    """
    return read_calibration(Path(path)).camera_model()
