"""``traffic-monitor calibrate``: calibration file, verification image, refusals."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from calibration import CameraModel, load_calibration
from calibration.pinhole import PinholeMount
from calibration.verify import GridSpec, birdseye, birdseye_matrix
from traffic_monitor.cli import main

MOUNT = PinholeMount(focal_px=700, image_size=(960, 540), height_m=9.0, pitch_deg=30, yaw_deg=5)
WORLD = [[-6.0, 12.0], [6.0, 12.0], [-6.0, 30.0], [6.0, 30.0], [0.0, 20.0], [3.0, 25.0]]
SPEC = GridSpec(x_range=(-8.0, 8.0), y_range=(10.0, 34.0), px_per_m=10.0)


def textured_road() -> tuple[np.ndarray, np.ndarray]:
    """A random-block road texture (bird's-eye) and the camera frame that sees it."""
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 255, (24, 16, 3), dtype=np.uint8)
    texture = cv2.resize(blocks, (160, 240), interpolation=cv2.INTER_NEAREST)
    view_to_world = np.linalg.inv(birdseye_matrix(SPEC))
    to_frame = MOUNT.world_to_image_matrix() @ view_to_world
    frame = cv2.warpPerspective(texture, to_frame, MOUNT.image_size, flags=cv2.INTER_LINEAR)
    return texture, frame


def write_points(path: Path, noise: float = 0.0, swap: bool = False) -> None:
    pixels = MOUNT.camera_model().world_to_image(np.array(WORLD))
    pixels += np.random.default_rng(0).normal(0, noise, pixels.shape)
    world = list(WORLD)
    if swap:  # four points, two of them swapped: the fitted mapping folds the road
        world, pixels = [world[0], world[1], world[3], world[2]], pixels[:4]
    points = [{"image": p.tolist(), "world": w} for p, w in zip(pixels, world, strict=True)]
    path.write_text(yaml.safe_dump({"method": "points", "points": points}))


def test_calibrate_writes_file_and_verification_image(tmp_path: Path, capsys) -> None:
    texture, frame = textured_road()
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    write_points(tmp_path / "points.yaml", noise=0.3)
    argv = ["calibrate", str(tmp_path / "frame.png"), "-i", str(tmp_path / "points.yaml")]
    argv += ["-o", str(tmp_path / "cam.yaml"), "--verify", str(tmp_path / "verify.png")]
    assert main([*argv, "--camera-id", "cam7"]) == 0
    assert "rms" in capsys.readouterr().out
    model = load_calibration(tmp_path / "cam.yaml")
    assert (
        np.abs(model.image_to_world(MOUNT.camera_model().world_to_image(WORLD)) - WORLD).max() < 0.2
    )
    picture = cv2.imread(str(tmp_path / "verify.png"))
    assert picture is not None
    assert picture.shape[0] == frame.shape[0] and picture.shape[1] > frame.shape[1]
    # the bird's-eye view of the calibrated camera gives back the road texture
    view = birdseye(frame, model, SPEC).astype(np.float32)
    inner = (slice(20, -20), slice(20, -20))
    corr = np.corrcoef(view[inner].ravel(), texture.astype(np.float32)[inner].ravel())[0, 1]
    assert corr > 0.7
    # control: a calibration 2 m off along the road does not
    shifted = CameraModel(np.array([[1, 0, 0], [0, 1, 2.0], [0, 0, 1]]) @ model.homography)
    wrong = birdseye(frame, shifted, SPEC).astype(np.float32)
    corr_wrong = np.corrcoef(wrong[inner].ravel(), texture.astype(np.float32)[inner].ravel())[0, 1]
    assert corr_wrong < 0.3


def test_calibrate_refuses_swapped_points(tmp_path: Path, capsys) -> None:
    _, frame = textured_road()
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    write_points(tmp_path / "points.yaml", swap=True)
    argv = ["calibrate", str(tmp_path / "frame.png"), "-i", str(tmp_path / "points.yaml")]
    assert main([*argv, "-o", str(tmp_path / "cam.yaml")]) == 2
    assert "folds the road" in capsys.readouterr().err
    assert not (tmp_path / "cam.yaml").exists()


def test_calibrate_interactive(tmp_path: Path, monkeypatch, capsys) -> None:
    _, frame = textured_road()
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    pixels = MOUNT.camera_model().world_to_image(np.array(WORLD[:4]))
    lines = "".join(f"{p[0]} {p[1]} {w[0]} {w[1]}\n" for p, w in zip(pixels, WORLD, strict=False))
    monkeypatch.setattr("sys.stdin", io.StringIO(lines + "\n"))
    argv = [
        "calibrate",
        str(tmp_path / "frame.png"),
        "--interactive",
        "-o",
        str(tmp_path / "c.json"),
    ]
    assert main(argv) == 0
    model = load_calibration(tmp_path / "c.json")
    assert np.abs(model.image_to_world(pixels) - np.array(WORLD[:4])).max() < 1e-3


def test_calibrate_on_real_video_frame(tmp_path: Path, overpass_video: Path) -> None:
    points = [
        {"image": [300, 470], "world": [0.0, 0.0]},
        {"image": [600, 470], "world": [7.0, 0.0]},
        {"image": [380, 250], "world": [0.0, 30.0]},
        {"image": [520, 250], "world": [7.0, 30.0]},
    ]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"method": "points", "points": points}))
    argv = ["calibrate", str(overpass_video), "-i", str(tmp_path / "p.yaml")]
    argv += ["-o", str(tmp_path / "c.yaml"), "--verify", str(tmp_path / "v.png")]
    assert main(argv) == 0
    picture = cv2.imread(str(tmp_path / "v.png"))
    assert picture is not None and picture.shape[0] == 480
    off_frame = [*points[:3], {"image": [520, 999], "world": [7.0, 30.0]}]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"method": "points", "points": off_frame}))
    assert main(argv) == 2


def test_calibrate_road_geometry_input(tmp_path: Path, capsys) -> None:
    _, frame = textured_road()
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    truth = MOUNT.camera_model()
    lines = [truth.world_to_image(np.array([[x, 14.0], [x, 30.0]])).tolist() for x in (0, 3.5, 7.0)]
    dashes = truth.world_to_image(np.array([[0.0, 14.0 + a] for a in (0, 3, 12, 15)])).tolist()
    spec = {
        "method": "road_geometry",
        "lane_lines": lines,
        "lane_width_m": "vn_highway",
        "dash_points": dashes,
        "dash": "vn_fast",
    }
    (tmp_path / "road.yaml").write_text(yaml.safe_dump(spec))
    argv = ["calibrate", str(tmp_path / "frame.png"), "-i", str(tmp_path / "road.yaml")]
    assert main([*argv, "-o", str(tmp_path / "cam.yaml")]) == 0
    model = load_calibration(tmp_path / "cam.yaml")
    pixels = truth.world_to_image(np.array([[0.0, 14.0], [0.0, 29.0]]))
    length = np.linalg.norm(np.diff(model.image_to_world(pixels), axis=0))
    assert length == pytest.approx(15.0, rel=1e-3)
    spec["dash"] = "no_such_preset"
    (tmp_path / "road.yaml").write_text(yaml.safe_dump(spec))
    assert main([*argv, "-o", str(tmp_path / "cam2.yaml")]) == 2
    assert "unknown preset" in capsys.readouterr().err


def write_tracks(path: Path, tracks_only: bool = False) -> None:
    from tests.calibration.test_auto import MOUNT as AUTO_MOUNT
    from tests.calibration.test_auto import synthetic_observations

    tracks, edges = synthetic_observations(0.3, np.random.default_rng(3))
    spec: dict[str, object] = {
        "image_size": list(AUTO_MOUNT.image_size),
        "tracks": [{"anchors": a.tolist(), "widths": w.tolist()} for a, w in tracks],
    }
    if not tracks_only:
        spec["edges"] = edges.tolist()
    path.write_text(yaml.safe_dump(spec))


def test_calibrate_from_tracks_file(tmp_path: Path, capsys) -> None:
    from tests.calibration.test_auto import MOUNT as AUTO_MOUNT

    frame = np.full((AUTO_MOUNT.image_size[1], AUTO_MOUNT.image_size[0], 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    write_tracks(tmp_path / "tracks.yaml")
    argv = ["calibrate", str(tmp_path / "frame.png"), "--tracks", str(tmp_path / "tracks.yaml")]
    argv += ["-o", str(tmp_path / "cam.yaml"), "--verify", str(tmp_path / "verify.png")]
    assert main(argv) == 0
    assert "method 3 from 4 tracks" in capsys.readouterr().out
    stored = yaml.safe_load((tmp_path / "cam.yaml").read_text())
    assert stored["method"] == "auto_tracks"
    model = load_calibration(tmp_path / "cam.yaml")
    pixels = AUTO_MOUNT.camera_model().world_to_image(np.array([[0.0, 15.0], [0.0, 40.0]]))
    length = float(np.linalg.norm(np.diff(model.image_to_world(pixels), axis=0)))
    assert length == pytest.approx(25.0, rel=0.05)
    picture = cv2.imread(str(tmp_path / "verify.png"))
    assert picture is not None and picture.shape[1] > frame.shape[1]


def test_calibrate_from_tracks_refuses_bad_input(tmp_path: Path, capsys) -> None:
    frame = np.full((540, 960, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    base = ["calibrate", str(tmp_path / "frame.png"), "-o", str(tmp_path / "cam.yaml")]
    write_tracks(tmp_path / "tracks.yaml", tracks_only=True)  # no edges, no focal length
    assert main([*base, "--tracks", str(tmp_path / "tracks.yaml")]) == 2
    assert "vertical vehicle edges" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"tracks": [{"anchors": [[1, 2]]}]}))
    assert main([*base, "--tracks", str(tmp_path / "bad.yaml")]) == 2
    assert "widths" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "small.png"), frame[:100, :100])
    small = ["calibrate", str(tmp_path / "small.png"), "-o", str(tmp_path / "cam.yaml")]
    assert main([*small, "--tracks", str(tmp_path / "tracks.yaml")]) == 2
    assert "960x540" in capsys.readouterr().err
    assert not (tmp_path / "cam.yaml").exists()
