"""Method 1: homography from correspondences, robust fit, refusal of degenerate input."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationError, fit_points
from calibration.pinhole import PinholeMount

MOUNT = PinholeMount(focal_px=900, image_size=(1280, 720), height_m=7.0, pitch_deg=22, yaw_deg=-8)
WORLD = np.array(
    [[x, y] for x in (-5.25, -1.75, 1.75, 5.25) for y in (10.0, 18.0, 26.0, 34.0)], dtype=float
)


def truth_pixels(world: np.ndarray) -> np.ndarray:
    return MOUNT.camera_model().world_to_image(world)


def test_four_exact_points_recover_homography() -> None:
    world = WORLD[[0, 3, 12, 15]]
    result = fit_points(truth_pixels(world), world, image_size=MOUNT.image_size)
    probe = WORLD + 0.3
    assert np.abs(result.model.image_to_world(truth_pixels(probe)) - probe).max() < 1e-4
    assert result.rms_px < 1e-3


def test_noisy_points_recovered_within_tolerance() -> None:
    rng = np.random.default_rng(1)
    pixels = truth_pixels(WORLD) + rng.normal(0, 1.0, WORLD.shape)  # 1 px click noise
    result = fit_points(pixels, WORLD, image_size=MOUNT.image_size)
    probe = np.column_stack([np.linspace(-5, 5, 30), np.linspace(10, 34, 30)])
    error = np.linalg.norm(result.model.image_to_world(truth_pixels(probe)) - probe, axis=1)
    # 1 px at 34 m is ~6 cm on this camera; the fit over 16 points does better than one click
    assert error.max() < 0.15
    assert 0.5 < result.rms_px < 2.0
    assert len(result.residuals) == len(WORLD)


def test_ransac_rejects_a_wrong_point_and_reports_it() -> None:
    pixels = truth_pixels(WORLD)
    pixels[5] += (40.0, -25.0)
    result = fit_points(pixels, WORLD, image_size=MOUNT.image_size)
    assert not result.residuals[5].inlier
    assert result.residuals[5].error_px > 30
    assert sum(r.inlier for r in result.residuals) == len(WORLD) - 1
    assert result.rms_px < 1e-3


@pytest.mark.parametrize(
    ("world", "pixels_shift", "message"),
    [
        (WORLD[[0, 1, 2]], None, "at least 4"),
        (WORLD[[0, 1, 2, 3]], None, "one line"),  # four points along one lane line
        (WORLD[[0, 1, 2, 15]], None, "collinear"),  # three of four on one line
        (WORLD[[0, 3, 12, 15]], (0.0, 800.0), "off the"),
    ],
)
def test_degenerate_inputs_refused(world, pixels_shift, message) -> None:
    pixels = truth_pixels(world)
    if pixels_shift is not None:
        pixels[0] += pixels_shift
    with pytest.raises(CalibrationError, match=message):
        fit_points(pixels, world, image_size=MOUNT.image_size)


def test_swapped_world_points_fold_the_road() -> None:
    world = WORLD[[0, 3, 12, 15]]
    pixels = truth_pixels(world)
    swapped = world[[0, 1, 3, 2]]
    with pytest.raises(CalibrationError, match="folds"):
        fit_points(pixels, swapped, image_size=MOUNT.image_size)


def test_one_bad_point_of_five_is_refused_not_silently_dropped() -> None:
    world = WORLD[[0, 3, 12, 15, 5]]
    pixels = truth_pixels(world)
    pixels[4] += (30.0, 30.0)
    with pytest.raises(CalibrationError, match="disagree with the others"):
        fit_points(pixels, world, image_size=MOUNT.image_size)


def test_mismatched_counts_refused() -> None:
    with pytest.raises(CalibrationError, match="image points but"):
        fit_points(truth_pixels(WORLD), WORLD[:-1])
