"""The view's own motion (pan, tilt, a settling camera) and the speeds it would falsify.

Real video: the overpass camera tilts by about 25 pixels in its first four seconds, then
holds; the intersection camera is fixed. A speed read while the view moves is the vehicle's
speed plus the camera's, so the speeding rule measures nothing then.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.rules.view_motion import ViewMotion
from tests.conftest import frames_at, require_shared

FPS = 30.0


def _moved(video_parts: tuple[str, ...], indices: list[int]) -> list[float]:
    video = require_shared(*video_parts)
    view = ViewMotion(window_s=1.0)
    return [
        view.update(i / FPS, frame)
        for i, frame in zip(indices, frames_at(video, indices), strict=True)
    ]


def test_a_translating_view_is_measured_in_frame_pixels():
    texture = np.random.default_rng(7).integers(0, 255, (400, 700), dtype=np.uint8)
    texture = np.asarray(np.kron(texture, np.ones((2, 2))), dtype=np.uint8)  # 800 x 1400
    view = ViewMotion(window_s=1.0)
    for step in range(11):  # 4 px per frame at 10 fps: 40 px over the 1 s window
        moved = view.update(step / 10, texture[100:580, 100 + 4 * step : 954 + 4 * step])
    assert moved == pytest.approx(40.0, abs=1.0)
    still = ViewMotion(window_s=1.0)
    for step in range(11):
        moved = still.update(step / 10, texture[100:580, 100:954])
    assert moved < 0.5


def test_the_overpass_camera_moves_while_it_settles_then_holds():
    overpass = ("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    indices = list(range(0, 600, 3))  # the demo's stride
    moved = dict(zip(indices, _moved(overpass, indices), strict=True))
    assert min(moved[i] for i in range(60, 121, 3)) > 5.0  # tilting: 9 to 10 px per second
    assert max(moved[i] for i in range(300, 600, 3)) < 3.0  # settled


def test_a_fixed_camera_holds_still_through_traffic():
    intersection = ("data", "videos", "intersection_cctv_30s.mp4")
    indices = list(range(0, 900, 3))
    assert max(_moved(intersection, indices)) < 1.0
