"""The speed rig's truth, checked independently of the renderer's own bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.speed_rig.cache import CachedScene, load, save, scene_key
from benchmarks.speed_rig.render import Imaging, Scene, Vehicle, median_background, render_frame
from benchmarks.speed_rig.scenes import RIG_MOUNT, standard_trajectories
from benchmarks.speed_rig.sprites import Sprite, load_sprites
from benchmarks.speed_rig.trajectories import Trajectory
from edge.detections import Detections
from tests.conftest import require_shared

BACKGROUND = np.full((480, 854, 3), 90, np.uint8)
SPRITE = Sprite(np.random.default_rng(0).integers(150, 255, (60, 80, 3), dtype=np.uint8), "test")
CLEAN = Imaging(blur_samples=1, noise_sigma=0.0, jpeg_quality=0)


def all_trajectories() -> list[Trajectory]:
    return [t for _, trajectories in standard_trajectories().values() for t in trajectories]


@pytest.mark.parametrize("trajectory", all_trajectories(), ids=lambda t: t.kind)
def test_speed_is_the_derivative_of_position(trajectory: Trajectory) -> None:
    t = np.linspace(trajectory.start_s + 0.01, trajectory.start_s + 7.0, 2000)
    positions, speeds = trajectory.state(t)
    numeric = np.linalg.norm(np.gradient(positions, t, axis=0), axis=1)
    assert np.abs(numeric[5:-5] - speeds[5:-5]).max() < 0.05  # m/s, kinks only at knots


def test_stop_and_go_stops_and_position_is_continuous() -> None:
    trajectory = Trajectory("stop_and_go", 0.0, 10.0, 0.0, 1.0, 36.0, t1=1.0, manoeuvre_s=2.0)
    t = np.linspace(0, 8, 4001)
    positions, speeds = trajectory.state(t)
    assert speeds.min() == 0.0
    assert speeds[(t > 3.05) & (t < 4.95)].max() == 0.0
    assert np.abs(np.diff(positions[:, 1])).max() < 10.0 * 0.002 * 1.01  # no jumps
    # distance = cruise 1 s + braking 2 s at mean 5 m/s + 0 + pulling away 2 s + cruise 1 s
    assert positions[t == 8.0][0, 1] - 10.0 == pytest.approx(10 + 10 + 0 + 10 + 10, abs=1e-6)


@pytest.mark.parametrize("kind", ["constant", "lane_change"])
def test_rendered_pixels_reproject_to_the_trajectory(kind: str) -> None:
    trajectory = Trajectory(kind, 0.0, 15.0, 0.5, 1.0, 50.0, lane_shift_m=3.5, t1=0.3)  # type: ignore[arg-type]
    scene = Scene("t", RIG_MOUNT, BACKGROUND, [Vehicle(trajectory, SPRITE)], 30.0, 2.0, CLEAN)
    model = RIG_MOUNT.camera_model()
    rng = np.random.default_rng(0)
    for index in (0, 15, 30, 45):
        image, truth = render_frame(scene, index, rng)
        # independent of the renderer's records: where did pixels change?
        ys, xs = np.nonzero(np.abs(image.astype(int) - BACKGROUND).sum(axis=2) > 30)
        bottom_centre = np.array([[(xs.min() + xs.max() + 1) / 2, ys.max() + 1.0]])
        world = model.image_to_world(bottom_centre)[0]
        expected, _ = trajectory.state(np.array([index / 30.0]))
        metres_per_px = model.metres_per_pixel(bottom_centre)[0]
        # the face's bottom edge is the contact line: one pixel of rasterisation
        assert np.abs(world - expected[0]).max() < 2.5 * metres_per_px + 0.02
        assert truth.visible[0]
        assert np.abs(model.image_to_world(truth.anchor)[0] - expected[0]).max() < 1e-6


def test_motion_blur_and_noise_change_the_image_but_not_the_truth() -> None:
    trajectory = Trajectory("constant", 0.0, 15.0, 0.5, 1.0, 80.0)
    blurred = Scene("b", RIG_MOUNT, BACKGROUND, [Vehicle(trajectory, SPRITE)], 30.0, 1.0)
    clean = Scene("c", RIG_MOUNT, BACKGROUND, [Vehicle(trajectory, SPRITE)], 30.0, 1.0, CLEAN)
    a, truth_a = render_frame(blurred, 10, np.random.default_rng(0))
    b, truth_b = render_frame(clean, 10, np.random.default_rng(0))
    difference = np.abs(a.astype(int) - b)
    assert difference.std() > 0.5  # sensor noise everywhere
    assert (difference.sum(axis=2) > 60).sum() > 20  # blurred edges of the moving vehicle
    assert np.array_equal(truth_a.world, truth_b.world)


def test_real_material_loads() -> None:
    dataset = require_shared("data", "detection")
    video = require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    sprites = load_sprites(Path(dataset), 6)
    assert all(s.image.shape[1] >= 90 and 0.55 <= s.aspect <= 1.25 for s in sprites)
    background = median_background(video, samples=9)
    assert background.shape == (480, 854, 3)


@pytest.mark.slow
def test_edge_path_measures_a_rendered_car(yolov8n_onnx: Path) -> None:
    from benchmarks.speed_rig.measure import run_scene, score
    from edge.detector import Detector, DetectorConfig

    dataset = require_shared("data", "detection")
    video = require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    sprite = load_sprites(Path(dataset), 1)[0]
    trajectory = Trajectory("constant", 0.0, 14.0, 0.5, 1.0, 40.0)
    scene = Scene(
        "smoke", RIG_MOUNT, median_background(video, 9), [Vehicle(trajectory, sprite)], 30.0, 2.0
    )
    detector = Detector(DetectorConfig(model=yolov8n_onnx, confidence=0.1, classes=["car"]))
    run = run_scene(scene, detector.detect_one, detector.names)
    result = score(run, RIG_MOUNT.camera_model())
    assert result.vehicles_measured == 1
    assert float(np.median(result.errors_kmh)) < 5.0


def test_scene_cache_round_trip_and_key(tmp_path: Path) -> None:
    trajectory = Trajectory("constant", 0.0, 15.0, 0.5, 1.0, 50.0)
    scene = Scene("k", RIG_MOUNT, BACKGROUND, [Vehicle(trajectory, SPRITE)], 30.0, 1.0, CLEAN)
    faster = Trajectory("constant", 0.0, 15.0, 0.5, 1.0, 51.0)
    other = Scene("k", RIG_MOUNT, BACKGROUND, [Vehicle(faster, SPRITE)], 30.0, 1.0, CLEAN)
    assert scene_key(scene, "yolov8n:0.1") == scene_key(scene, "yolov8n:0.1")
    assert scene_key(scene, "yolov8n:0.1") != scene_key(other, "yolov8n:0.1")
    assert scene_key(scene, "yolov8n:0.1") != scene_key(scene, "yolov8n:0.2")
    frames = [
        Detections(np.array([[1.5, 2.0, 30.0, 40.25]]), np.array([0.5]), np.array([2])),
        Detections.empty(),
        Detections(np.arange(8.0).reshape(2, 4), np.array([0.9, 0.1]), np.array([2, 7])),
    ]
    edges = [np.array([[1.0, 2.0, 3.0, 4.0]]), np.empty((0, 4))]
    path = tmp_path / "scene.npz"
    save(path, CachedScene(frames, edges))
    loaded = load(path)
    assert loaded is not None and len(loaded.detections) == 3
    for got, want in zip(loaded.detections, frames, strict=True):
        assert np.array_equal(got.xyxy, want.xyxy)
        assert np.array_equal(got.confidence, want.confidence)
        assert np.array_equal(got.class_id, want.class_id)
    assert [e.shape for e in loaded.edges] == [(1, 4), (0, 4)]
    assert load(tmp_path / "missing.npz") is None
