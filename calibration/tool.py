"""What ``traffic-monitor calibrate`` does, as plain functions (the CLI only parses arguments)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from calibration.camera import CalibrationError, FloatArray, LensModel
from calibration.fit import FitResult, fit_points, residuals_of
from calibration.geo import lat_lon_to_local
from calibration.inputs import PointsInput, RoadInput
from calibration.road_geometry import fit_road_geometry
from calibration.store import CalibrationFile, GeoReference, from_fit, save_calibration
from calibration.verify import Image, verification_image

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_frame(path: Path, index: int = 0) -> Image:
    """Read a still image, or frame ``index`` of a video.

    Raises:
        CalibrationError: The file is missing or cannot be decoded.
    """
    if not path.is_file():
        raise CalibrationError(f"frame source {path} does not exist")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise CalibrationError(f"cannot decode image {path}")
        return np.asarray(image, dtype=np.uint8)
    capture = cv2.VideoCapture(str(path))
    try:
        if index:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
    finally:
        capture.release()
    if not ok or image is None:
        raise CalibrationError(f"cannot read frame {index} of video {path}")
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class Outcome:
    """A calibration with what produced it (for the verification image and the summary)."""

    calibration: CalibrationFile
    fit: FitResult
    image_points: FloatArray
    world_points: FloatArray


def calibrate_points(
    spec: PointsInput, image_size: tuple[int, int], camera_id: str = ""
) -> Outcome:
    """Method 1 from a parsed input file."""
    image, world, lat_lon = spec.arrays()
    geo = None
    if lat_lon is not None:
        world, origin = lat_lon_to_local(lat_lon, spec.origin_latlon)
        geo = GeoReference(origin_lat=origin[0], origin_lon=origin[1])
    assert world is not None
    lens = None
    if spec.lens is not None:
        lens = LensModel(np.asarray(spec.lens.camera_matrix), np.asarray(spec.lens.dist_coeffs))
    result = fit_points(image, world, image_size=image_size, lens=lens, ransac_px=spec.ransac_px)
    calibration = from_fit(result, "points", camera_id=camera_id, geo=geo)
    return Outcome(calibration, result, image, world)


def calibrate_road(spec: RoadInput, image_size: tuple[int, int], camera_id: str = "") -> Outcome:
    """Method 2 from a parsed input file; its check points are the dash ends."""
    geometry = spec.geometry(image_size)
    model, focal = fit_road_geometry(geometry)
    offset = geometry.offsets_m[geometry.dash_line]
    world = np.array([[offset, along] for along in geometry.dash_positions_m])
    result = FitResult(model, residuals_of(model, geometry.dash_points, world))
    note = "shear from the cross line" if focal is None else f"implied focal length {focal:.0f} px"
    calibration = from_fit(result, "road_geometry", camera_id=camera_id, notes=note)
    return Outcome(calibration, result, geometry.dash_points, world)


def run_calibration(
    spec: PointsInput | RoadInput,
    frame: Image,
    output: Path,
    verify_path: Path | None,
    camera_id: str = "",
) -> Outcome:
    """Calibrate, write the calibration file and (optionally) the verification image."""
    image_size = (int(frame.shape[1]), int(frame.shape[0]))
    if isinstance(spec, PointsInput):
        outcome = calibrate_points(spec, image_size, camera_id)
    else:
        outcome = calibrate_road(spec, image_size, camera_id)
    save_calibration(outcome.calibration, output)
    if verify_path is not None:
        picture = verification_image(
            frame, outcome.fit.model, outcome.image_points, outcome.world_points
        )
        verify_path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(verify_path), picture):
            raise CalibrationError(f"cannot write verification image {verify_path}")
        logger.info("wrote verification image %s", verify_path)
    return outcome


def summary_lines(outcome: Outcome) -> list[str]:
    """Human-readable per-point errors."""
    lines = [" #   image (px)          world (m)          err px   err m   used"]
    for index, r in enumerate(outcome.fit.residuals):
        lines.append(
            f"{index + 1:2d}  ({r.image[0]:7.1f},{r.image[1]:7.1f})  "
            f"({r.world[0]:8.2f},{r.world[1]:8.2f})  {r.error_px:7.2f}  {r.error_m:6.3f}  "
            f"{'yes' if r.inlier else 'NO'}"
        )
    lines.append(f"rms: {outcome.fit.rms_px:.2f} px, {outcome.fit.rms_m:.3f} m")
    return lines
