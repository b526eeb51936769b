"""The calibration input file read by ``traffic-monitor calibrate`` (YAML or JSON)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from calibration.camera import CalibrationError
from calibration.road_geometry import (
    DASH_PRESETS_M,
    LANE_WIDTH_PRESETS_M,
    RoadGeometryInput,
    dash_positions,
)
from calibration.store import LensParams

logger = logging.getLogger(__name__)


class PointPair(BaseModel):
    """One correspondence: an image pixel and where it lies on the road."""

    model_config = ConfigDict(extra="forbid")

    image: tuple[float, float] = Field(description="Pixel (x, y) in the frame.")
    world: tuple[float, float] | None = Field(
        default=None, description="Road-plane position (x, y) in metres."
    )
    latlon: tuple[float, float] | None = Field(
        default=None, description="Or: WGS-84 (latitude, longitude) in degrees."
    )

    @model_validator(mode="after")
    def _one_position(self) -> PointPair:
        if (self.world is None) == (self.latlon is None):
            raise ValueError("give exactly one of `world` (metres) or `latlon` (degrees)")
        return self


class PointsInput(BaseModel):
    """Method 1: point correspondences."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["points"] = Field(description="Point correspondences.")
    points: list[PointPair] = Field(min_length=1, description="At least four correspondences.")
    origin_latlon: tuple[float, float] | None = Field(
        default=None, description="Origin of the local frame for latlon points (default: first)."
    )
    ransac_px: float = Field(default=3.0, gt=0, description="RANSAC inlier threshold, pixels.")
    lens: LensParams | None = Field(default=None, description="Lens distortion, if known.")

    def arrays(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Image points, world metres (or None) and lat/lon (or None)."""
        image = np.array([p.image for p in self.points], dtype=np.float64)
        kinds = {p.world is None for p in self.points}
        if len(kinds) > 1:
            raise CalibrationError("mix of `world` and `latlon` points: use one kind for all")
        if self.points[0].world is not None:
            return image, np.array([p.world for p in self.points], dtype=np.float64), None
        return image, None, np.array([p.latlon for p in self.points], dtype=np.float64)


class RoadInput(BaseModel):
    """Method 2: lane lines and lane-marking dashes."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["road_geometry"] = Field(description="Known road geometry.")
    lane_lines: list[list[tuple[float, float]]] = Field(
        min_length=3,
        description="Image polylines of three or more lane boundaries, in order across the road.",
    )
    lane_width_m: float | str = Field(
        default="vn_urban_arterial",
        description=f"Lane width in metres, or a preset: {', '.join(LANE_WIDTH_PRESETS_M)}.",
    )
    offsets_m: list[float] | None = Field(
        default=None, description="Explicit lateral offset of each line (overrides lane width)."
    )
    dash_line: int = Field(default=0, ge=0, description="Index of the line with the dashes.")
    dash_points: list[tuple[float, float]] = Field(
        min_length=3, description="Dash start/end pixels along that line, nearest first."
    )
    dash: tuple[float, float] | str = Field(
        default="vn_slow",
        description=f"(dash length, gap) in metres, or a preset: {', '.join(DASH_PRESETS_M)}.",
    )
    cross_line: tuple[tuple[float, float], tuple[float, float]] | None = Field(
        default=None, description="Two pixels of a line perpendicular to the lanes (optional)."
    )

    def geometry(self, image_size: tuple[int, int]) -> RoadGeometryInput:
        """The solver input with presets resolved."""
        width = _preset(self.lane_width_m, LANE_WIDTH_PRESETS_M, "lane width")
        offsets = self.offsets_m or [index * width for index in range(len(self.lane_lines))]
        dash = self.dash
        dash_m, gap_m = (
            DASH_PRESETS_M[_known(dash, DASH_PRESETS_M)] if isinstance(dash, str) else dash
        )
        return RoadGeometryInput(
            lane_lines=[np.array(line, dtype=np.float64) for line in self.lane_lines],
            offsets_m=offsets,
            dash_line=self.dash_line,
            dash_points=np.array(self.dash_points, dtype=np.float64),
            dash_positions_m=dash_positions(len(self.dash_points), dash_m, gap_m),
            image_size=image_size,
            cross_line=None if self.cross_line is None else np.array(self.cross_line, float),
        )


def _known(name: str, table: Mapping[str, object]) -> str:
    if name not in table:
        raise CalibrationError(f"unknown preset {name!r}; known: {', '.join(table)}")
    return name


def _preset(value: float | str, table: dict[str, float], what: str) -> float:
    if isinstance(value, str):
        return table[_known(value, table)]
    if value <= 0:
        raise CalibrationError(f"{what} must be positive, got {value}")
    return value


class InputFile(BaseModel):
    """The whole input file: one of the methods, chosen by ``method``."""

    model_config = ConfigDict(extra="forbid")

    spec: Annotated[PointsInput | RoadInput, Field(discriminator="method")] = Field(
        description="The calibration input."
    )


def read_input(path: Path) -> PointsInput | RoadInput:
    """Read a calibration input file.

    Raises:
        CalibrationError: Missing or invalid file, with the offending field named.
    """
    if not path.is_file():
        raise CalibrationError(f"input file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CalibrationError(f"{path}: not valid YAML/JSON: {exc}") from exc
    try:
        return InputFile.model_validate({"spec": raw}).spec
    except ValidationError as exc:
        raise CalibrationError(f"{path}: invalid calibration input: {exc}") from exc


def parse_point_line(line: str) -> PointPair:
    """Parse ``x y X Y`` (metres) or ``x y lat lon`` with a ``ll`` prefix, for interactive input.

    Raises:
        CalibrationError: Not four numbers.
    """
    text = line.strip()
    geo = text.lower().startswith("ll ")
    fields = text[3:].split() if geo else text.replace(",", " ").split()
    try:
        numbers = [float(field) for field in fields]
    except ValueError as exc:
        raise CalibrationError(f"expected four numbers, got {line!r}") from exc
    if len(numbers) != 4:
        raise CalibrationError(f"expected four numbers 'x y X Y', got {line!r}")
    image = (numbers[0], numbers[1])
    if geo:
        return PointPair(image=image, latlon=(numbers[2], numbers[3]))
    return PointPair(image=image, world=(numbers[2], numbers[3]))
