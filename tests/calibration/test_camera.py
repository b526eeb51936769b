"""Camera model: round trips, lens distortion, horizon handling, the pinhole factory."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationError, CameraModel, LensModel
from calibration.pinhole import PinholeMount

MOUNT = PinholeMount(
    focal_px=900.0, image_size=(1280, 720), height_m=7.0, pitch_deg=25.0, yaw_deg=12.0
)


def road_pixels(model: CameraModel, n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    world = np.column_stack([rng.uniform(-6, 6, n), rng.uniform(8, 60, n)])
    return model.world_to_image(world)


def test_pixel_world_pixel_round_trip() -> None:
    model = MOUNT.camera_model()
    pixels = road_pixels(model)
    back = model.world_to_image(model.image_to_world(pixels))
    assert np.abs(back - pixels).max() < 1e-6


def test_world_pixel_world_round_trip_with_lens_distortion() -> None:
    lens = LensModel(MOUNT.intrinsics(), np.array([-0.25, 0.08, 0.001, -0.0005, 0.0]))
    model = CameraModel(np.linalg.inv(MOUNT.world_to_image_matrix()), lens=lens)
    world = np.array([[0.0, 10.0], [-3.5, 20.0], [4.0, 35.0], [1.0, 15.0]])
    pixels = model.world_to_image(world)
    # distortion really moves the points, and the model undoes it
    ideal = MOUNT.camera_model().world_to_image(world)
    assert np.abs(pixels - ideal).max() > 1.0
    assert np.abs(model.image_to_world(pixels) - world).max() < 1e-4


def test_pinhole_known_geometry() -> None:
    # straight down-the-road camera: the point under the optical axis is h / tan(pitch) ahead
    mount = PinholeMount(focal_px=800, image_size=(800, 600), height_m=10.0, pitch_deg=45.0)
    world = mount.camera_model().image_to_world(np.array([[400.0, 300.0]]))
    assert world[0] == pytest.approx([0.0, 10.0], abs=1e-9)


def test_points_above_horizon_are_nan() -> None:
    model = MOUNT.camera_model()
    horizon_y = 360 - 900 * np.tan(np.radians(25.0))  # about -60: above the frame top
    result = model.image_to_world(np.array([[640.0, horizon_y - 5], [640.0, 700.0]]))
    assert np.isnan(result[0]).all()
    assert np.isfinite(result[1]).all()


def test_vectorised_shape_and_bad_input() -> None:
    model = MOUNT.camera_model()
    assert model.image_to_world(np.zeros((0, 2))).shape == (0, 2)
    assert model.image_to_world(np.array([640.0, 700.0])).shape == (1, 2)
    with pytest.raises(CalibrationError, match=r"shape \(N, 2\)"):
        model.image_to_world(np.zeros((3, 3)))
    with pytest.raises(CalibrationError, match="singular"):
        CameraModel(np.zeros((3, 3)))


def test_metres_per_pixel_grows_with_distance() -> None:
    model = MOUNT.camera_model()
    near, far = model.metres_per_pixel(model.world_to_image(np.array([[0, 10.0], [0, 50.0]])))
    assert far > 3 * near
