"""The stored, versioned calibration file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration import CalibrationError, fit_points, load_calibration, read_calibration
from calibration.pinhole import PinholeMount
from calibration.store import from_fit, save_calibration

MOUNT = PinholeMount(focal_px=900, image_size=(1280, 720), height_m=7.0, pitch_deg=22)
WORLD = np.array([[-5.0, 10.0], [5.0, 10.0], [-5.0, 30.0], [5.0, 30.0], [0.0, 20.0]])


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    pixels = MOUNT.camera_model().world_to_image(WORLD)
    result = fit_points(pixels, WORLD, image_size=MOUNT.image_size)
    path = tmp_path / f"cam1{suffix}"
    save_calibration(from_fit(result, "points", camera_id="cam1"), path)
    stored = read_calibration(path)
    assert stored.camera_id == "cam1"
    assert stored.version == 1
    assert len(stored.errors.points) == len(WORLD)
    model = load_calibration(path)
    assert np.abs(model.image_to_world(pixels) - WORLD).max() < 1e-4


def test_unknown_version_and_bad_fields_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("version: 2\nmethod: points\nhomography: [[1,0,0],[0,1,0],[0,0,1]]\n")
    with pytest.raises(CalibrationError, match="version 2"):
        read_calibration(path)
    path.write_text("version: 1\nmethod: points\nhomography: [[1,0,0],[0,1,0]]\n")
    with pytest.raises(CalibrationError, match="3x3"):
        read_calibration(path)
    path.write_text("version: 1\nmethod: points\nhomography: [[1,0,0],[0,1,0],[0,0,1]]\nx: 1\n")
    with pytest.raises(CalibrationError, match="Extra inputs"):
        read_calibration(path)
    with pytest.raises(CalibrationError, match="does not exist"):
        read_calibration(tmp_path / "missing.yaml")
