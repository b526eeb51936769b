"""Method 3: tracks and vertical edges of a known camera recover it."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationError
from calibration.auto import calibrate_from_tracks, road_vanishing_point, vertical_edges
from calibration.pinhole import PinholeMount

MOUNT = PinholeMount(focal_px=750, image_size=(960, 540), height_m=7.5, pitch_deg=10, yaw_deg=8)


def synthetic_observations(noise_px: float, rng: np.random.Generator):
    tracks = []
    edges = []
    for x in (-5.0, -1.5, 2.0, 5.5):
        y = np.linspace(15, 45, 40)
        ground = np.column_stack([np.full_like(y, x), y])
        anchors = MOUNT.project(np.column_stack([ground, np.zeros_like(y)]))
        left = MOUNT.project(np.column_stack([ground - np.array([0.9, 0]), np.zeros_like(y)]))
        right = MOUNT.project(np.column_stack([ground + np.array([0.9, 0]), np.zeros_like(y)]))
        widths = np.linalg.norm(right - left, axis=1)
        tracks.append((anchors + rng.normal(0, noise_px, anchors.shape), widths))
        for side in (-0.9, 0.9):
            bottom = MOUNT.project(
                np.column_stack([ground + np.array([side, 0]), np.zeros_like(y)])
            )
            top = MOUNT.project(
                np.column_stack([ground + np.array([side, 0]), np.full_like(y, 1.4)])
            )
            edges.append(np.hstack([bottom, top]) + rng.normal(0, noise_px, (len(y), 4)))
    return tracks, np.vstack(edges)


def test_exact_observations_recover_the_camera() -> None:
    tracks, edges = synthetic_observations(0.0, np.random.default_rng(0))
    result = calibrate_from_tracks(tracks, edges, MOUNT.image_size)
    assert result.focal_px == pytest.approx(750, rel=0.01)
    assert result.pitch_deg == pytest.approx(10, abs=0.2)
    assert result.yaw_deg == pytest.approx(8, abs=0.2)
    assert result.height_m == pytest.approx(7.5, rel=0.02)
    # along-road distances (what speed needs) agree with the true camera
    truth = MOUNT.camera_model()
    pixels = truth.world_to_image(np.array([[0.0, 15.0], [0.0, 40.0]]))
    length = np.linalg.norm(np.diff(result.model.image_to_world(pixels), axis=0))
    assert length == pytest.approx(25.0, rel=0.03)


def test_noisy_observations_stay_close() -> None:
    tracks, edges = synthetic_observations(0.7, np.random.default_rng(1))
    result = calibrate_from_tracks(tracks, edges, MOUNT.image_size)
    assert result.focal_px == pytest.approx(750, rel=0.15)
    assert result.tracks_used == 4


def test_vanishing_point_needs_two_tracks() -> None:
    tracks, _ = synthetic_observations(0.0, np.random.default_rng(0))
    with pytest.raises(CalibrationError, match="two or more"):
        road_vanishing_point([tracks[0][0]])


def test_vertical_edges_found_in_a_box() -> None:
    image = np.full((200, 200, 3), 40, np.uint8)
    image[50:150, 80:120] = 220  # an upright bright block
    edges = vertical_edges(image, np.array([[70.0, 40.0, 130.0, 160.0]]))
    assert len(edges) >= 2
    assert np.all(np.abs(edges[:, 0] - edges[:, 2]) <= 2)


def test_known_focal_skips_edges_and_bad_edges_are_refused() -> None:
    tracks, edges = synthetic_observations(0.0, np.random.default_rng(0))
    result = calibrate_from_tracks(tracks, np.zeros((0, 4)), MOUNT.image_size, focal_px=750.0)
    assert result.height_m == pytest.approx(7.5, rel=0.02)
    upright = edges.copy()
    upright[:, 2] = upright[:, 0]  # perfectly vertical edges: vanishing point at infinity
    with pytest.raises(CalibrationError, match=r"converge|focal length"):
        calibrate_from_tracks(tracks, upright, MOUNT.image_size)
