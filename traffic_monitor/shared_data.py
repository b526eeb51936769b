"""Locating the shared data folder (models, videos, labelled images).

The data is never committed. One setting finds it: the environment variable
``TRAFFIC_MONITOR_SHARED``; without it, ``../shared`` beside the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TRAFFIC_MONITOR_SHARED"
REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    """Return the shared data folder (it may not exist).

    Returns:
        ``$TRAFFIC_MONITOR_SHARED`` when set, else ``<repo>/../shared``.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser().resolve()
    return (REPO_ROOT.parent / "shared").resolve()


def shared_path(*parts: str) -> Path:
    """Return a path inside the shared data folder.

    Args:
        *parts: Path components below the shared root, e.g. ``("models", "yolov8n.onnx")``.

    Returns:
        The joined path; the caller checks that it exists.
    """
    return shared_root().joinpath(*parts)


SAMPLE_VIDEOS = (
    "data/videos/vn_nga_ba_hue_overpass_20s.mp4",
    "data/videos/intersection_cctv_30s.mp4",
)
"""The shared sample clips, relative to the shared root."""


def sample_video(index: int = 0) -> Path:
    """Return one of the shared sample videos (0: Ngã ba Huế overpass, 1: CCTV intersection)."""
    return shared_path(*SAMPLE_VIDEOS[index].split("/"))
