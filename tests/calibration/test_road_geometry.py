"""Method 2: lane lines and dashes of a known pinhole camera recover its mapping."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationError
from calibration.pinhole import PinholeMount
from calibration.road_geometry import RoadGeometryInput, dash_positions, fit_road_geometry

MOUNT = PinholeMount(focal_px=1000, image_size=(1280, 720), height_m=8.0, pitch_deg=20, yaw_deg=9)
OFFSETS = [-1.75, 1.75, 5.25]
DASH_START = 12.0  # first dash end's along-road position in the truth frame


def make_input(noise_px: float = 0.0, cross: bool = False) -> RoadGeometryInput:
    truth = MOUNT.camera_model()
    rng = np.random.default_rng(3)
    lines = [truth.world_to_image(np.array([[x, 14.0], [x, 25.0], [x, 45.0]])) for x in OFFSETS]
    along = dash_positions(6, 3.0, 9.0)
    dashes = truth.world_to_image(np.array([[OFFSETS[1], DASH_START + a] for a in along]))
    lines = [line + rng.normal(0, noise_px, line.shape) for line in lines]
    dashes = dashes + rng.normal(0, noise_px, dashes.shape)
    cross_line = truth.world_to_image(np.array([[-1.0, 11.0], [5.0, 11.0]])) if cross else None
    return RoadGeometryInput(
        lane_lines=lines,
        offsets_m=OFFSETS,
        dash_line=1,
        dash_points=dashes,
        dash_positions_m=along,
        image_size=MOUNT.image_size,
        cross_line=cross_line,
    )


def probe_error(model) -> float:
    world = np.array([[x, y] for x in (-1.0, 2.0, 5.0) for y in (12.0, 25.0, 40.0)])
    pixels = MOUNT.camera_model().world_to_image(world)
    expected = world - [0.0, DASH_START]
    return float(np.abs(model.image_to_world(pixels) - expected).max())


def test_exact_geometry_recovers_the_camera() -> None:
    model, focal = fit_road_geometry(make_input())
    assert focal == pytest.approx(1000.0, rel=1e-4)
    assert probe_error(model) < 1e-4


def test_cross_line_fixes_the_shear_without_camera_assumptions() -> None:
    model, focal = fit_road_geometry(make_input(cross=True))
    assert focal is None
    assert probe_error(model) < 1e-4


def test_click_noise_gives_bounded_error() -> None:
    model, _ = fit_road_geometry(make_input(noise_px=0.7))
    assert probe_error(model) < 1.0  # metres over a 40 m stretch


def test_dash_positions_alternate() -> None:
    assert dash_positions(5, 3.0, 9.0) == [0.0, 3.0, 12.0, 15.0, 24.0]


def test_refuses_two_lines_and_short_dashes() -> None:
    data = make_input()
    with pytest.raises(CalibrationError, match="three lane lines"):
        fit_road_geometry(
            RoadGeometryInput(
                data.lane_lines[:2],  # two lines leave the plane's tilt free
                OFFSETS[:2],
                1,
                data.dash_points,
                data.dash_positions_m,
                data.image_size,
            )
        )
    with pytest.raises(CalibrationError, match="three dash"):
        fit_road_geometry(
            RoadGeometryInput(
                data.lane_lines,
                OFFSETS,
                1,
                data.dash_points[:2],
                data.dash_positions_m[:2],
                data.image_size,
            )
        )
