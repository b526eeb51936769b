"""Cache of what rendering a scene produced: per-frame detections and method 3's edges.

Rendering and detecting is most of the rig's time (75–150 s a scene on the shared machine);
the tracker, the calibrations and the speed estimation that follow take seconds. A cache
entry is keyed by everything that decides the frames and the detections (scene name, camera,
trajectories, sprites, background, imaging, seed, detector), so a changed scene or detector
renders again, while a changed tracker or speed estimator replays the cached detections.

The edges for method 3 are found inside the tracked boxes at render time and are cached with
the detections: they follow the tracker of the run that filled the cache.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.speed_rig.render import Scene
from edge.detections import Detections

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "build" / "speed_rig_cache"
"""Where ``python -m benchmarks.speed_rig`` keeps rendered scenes (``build/`` is ignored)."""

FORMAT = 1
"""Bumped when what is cached changes."""


@dataclass(frozen=True)
class CachedScene:
    """Detections of every frame and method 3's edge segments of one rendered scene."""

    detections: list[Detections]
    edges: list[FloatArray]


def scene_key(scene: Scene, detector: str) -> str:
    """Hex digest of everything that decides a scene's frames and detections.

    Args:
        scene: The scene.
        detector: Identity of the detector (model file and confidence threshold).
    """
    digest = hashlib.sha256()
    parts = [
        f"format={FORMAT}",
        detector,
        scene.name,
        repr(scene.mount),
        repr(scene.fps),
        repr(scene.duration_s),
        repr(scene.imaging),
        repr(scene.seed),
    ]
    for part in parts:
        digest.update(part.encode())
    digest.update(scene.background.tobytes())
    for vehicle in scene.vehicles:
        digest.update(repr(vehicle.trajectory).encode())
        digest.update(vehicle.sprite.image.tobytes())
    return digest.hexdigest()[:24]


def _stack(rows: list[FloatArray], width: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    counts = np.array([len(r) for r in rows], dtype=np.int64)
    flat = np.concatenate([r.reshape(-1, width) for r in rows]) if rows else np.empty((0, width))
    return np.asarray(flat, dtype=np.float64), counts


def _split(flat: FloatArray, counts: npt.NDArray[np.int64]) -> list[FloatArray]:
    return list(np.split(flat, np.cumsum(counts)[:-1])) if len(counts) else []


def save(path: Path, cached: CachedScene) -> None:
    """Write one scene's detections and edges to ``path`` (``.npz``)."""
    det = cached.detections
    xyxy, counts = _stack([np.asarray(d.xyxy, dtype=np.float64) for d in det], 4)
    conf, _ = _stack([np.asarray(d.confidence, dtype=np.float64) for d in det], 1)
    cls, _ = _stack([np.asarray(d.class_id, dtype=np.float64) for d in det], 1)
    edges, edge_counts = _stack(cached.edges, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        temporary,
        xyxy=xyxy,
        confidence=conf,
        class_id=cls,
        counts=counts,
        edges=edges,
        edge_counts=edge_counts,
    )
    temporary.replace(path)


def load(path: Path) -> CachedScene | None:
    """Read a cached scene (None: no such file or an unreadable one)."""
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            counts = data["counts"]
            xyxy = _split(data["xyxy"], counts)
            conf = _split(data["confidence"].ravel(), counts)
            cls = _split(data["class_id"].ravel(), counts)
            edges = _split(data["edges"], data["edge_counts"])
    except (OSError, KeyError, ValueError) as exc:
        logger.warning("ignoring unreadable scene cache %s: %s", path, exc)
        return None
    detections = [
        Detections(
            xyxy=b.astype(np.float32), confidence=c.astype(np.float32), class_id=k.astype(np.int64)
        )
        for b, c, k in zip(xyxy, conf, cls, strict=True)
    ]
    return CachedScene(detections, edges)
