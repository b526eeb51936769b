"""Shared fixtures: where the shared data lives, and skipping only when it is absent."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from traffic_monitor.shared_data import ENV_VAR, shared_path, shared_root


def pytest_configure(config: pytest.Config) -> None:
    """Keep Ultralytics (models extra) offline and out of the home folder during tests."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-config-"))


def frames_at(video: Path, indices: Sequence[int]) -> list[np.ndarray]:
    """The frames of ``video`` at ``indices`` (decoded in order, as a camera would)."""
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    for index in range(max(indices) + 1):
        ok, frame = capture.read()
        assert ok, f"{video} has no frame {index}"
        if index in indices:
            frames.append(frame)
    capture.release()
    return frames


def require_shared(*parts: str) -> Path:
    """Return a path inside the shared folder, or skip the test saying which file is missing."""
    path = shared_path(*parts)
    if not path.exists():
        pytest.skip(f"shared data file {path} is absent (set {ENV_VAR} to the shared folder)")
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; skips when it does not exist at all."""
    root = shared_root()
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} is absent (set {ENV_VAR})")
    return root


@pytest.fixture(scope="session")
def yolov8n_onnx() -> Path:
    """The shared float YOLOv8n ONNX model (640)."""
    return require_shared("models", "yolov8n.onnx")


@pytest.fixture(scope="session")
def yolo11n_320_onnx() -> Path:
    """The shared float YOLO11n ONNX model (320)."""
    return require_shared("models", "yolo11n_320.onnx")


@pytest.fixture(scope="session")
def overpass_video() -> Path:
    """Vietnamese overpass clip: 854x480, 30 fps, 608 frames."""
    return require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")


@pytest.fixture(scope="session")
def intersection_video() -> Path:
    """CCTV intersection clip: 640x480, 30 fps, 909 frames."""
    return require_shared("data", "videos", "intersection_cctv_30s.mp4")


@pytest.fixture(scope="session")
def bus_image() -> Path:
    """The Ultralytics sample street image."""
    return require_shared("data", "images", "bus.jpg")
