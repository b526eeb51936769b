"""Tracking and rules alone, replayed on a clip's cached detections: per-frame cost per step.

The network runs once over the overpass clip (ONNX Runtime, the scene's thresholds); its
detections are then replayed through a fresh ``CameraAnalytics`` (duplicate suppression,
rider merge, ByteTrack, the scene's 8 rules) several times, timing tracking and each rule per
frame. Warm caches and nothing else running in between: the cost of the Python work itself,
which the full benchmark (``traffic-monitor bench``) sees inflated by the network call
evicting the caches. The report carries a digest of every event and track id, so a speed-up
that changed what the rules see shows as a different digest. Run (writes
``benchmarks/results/analytics_replay_cpu.json``)::

    .venv/bin/python -m benchmarks.analytics_replay [--frames 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.capacity import detector_for
from benchmarks.detection_path import machine_info
from edge.detections import Detections
from edge.detector import Detector
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.replay import DEFAULT_EPOCH
from edge.scene import SceneConfig, load_scene
from traffic_monitor.shared_data import REPO_ROOT, sample_video, shared_path

logger = logging.getLogger(__name__)

RESULT = Path(__file__).parent / "results" / "analytics_replay_cpu.json"
SCENE = REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml"
FPS = 30.0
"""The clip's frame rate (timestamps of the replay)."""


def detect_clip(detector: Detector, video: Path, frames: int) -> list[Detections]:
    """The detector's output for the first ``frames`` frames of ``video``."""
    capture = cv2.VideoCapture(str(video))
    found: list[Detections] = []
    try:
        while len(found) < frames:
            ok, image = capture.read()
            if not ok:
                break
            found.append(detector.detect_one(image))
    finally:
        capture.release()
    return found


def replay_once(
    scene: SceneConfig, names: Sequence[str], detections: Sequence[Detections]
) -> dict[str, Any]:
    """One replay through fresh analytics: mean ms per frame of tracking and each rule.

    Returns:
        ``tracking_ms``, ``rules_ms``, ``per_rule_ms``, ``events`` and ``digest`` (of every
        event's type, track, phase and measurements, and every frame's track ids).
    """
    analytics = CameraAnalytics(scene, names)
    tracking = 0.0
    per_rule = dict.fromkeys((rule.name for rule in analytics.rules), 0.0)
    seen: list[object] = []
    event_count = 0
    for index, frame_detections in enumerate(detections):
        timestamp = index / FPS
        start = time.perf_counter()
        tracked = analytics._track(frame_detections, timestamp)
        tracking += time.perf_counter() - start
        # events need a wall-clock time the contract accepts (2000..2099), as in edge replays
        # no image in a replay of detections: the enrich step (second-stage models) adds nothing
        frame = analytics._context(
            tracked,
            analytics._enrich(tracked.detections, index, timestamp, None),
            index=index,
            timestamp=timestamp,
            wall_time=DEFAULT_EPOCH + timestamp,
            image=None,
        )
        for rule in analytics.rules:
            start = time.perf_counter()
            events = rule.process(frame)
            per_rule[rule.name] += time.perf_counter() - start
            event_count += len(events)
            seen.extend(
                (e.type, e.track_id, e.phase, sorted(e.measurements.items())) for e in events
            )
        seen.append(tuple(tracked.detections.tracker_id.tolist()))
    count = max(len(detections), 1)
    return {
        "tracking_ms": round(tracking / count * 1e3, 4),
        "rules_ms": round(sum(per_rule.values()) / count * 1e3, 4),
        "per_rule_ms": {name: round(value / count * 1e3, 4) for name, value in per_rule.items()},
        "events": event_count,
        "digest": hashlib.sha256(repr(seen).encode()).hexdigest()[:16],
    }


def replay(
    scene: SceneConfig, names: Sequence[str], detections: Sequence[Detections], repeats: int
) -> dict[str, Any]:
    """``repeats`` replays; figures of the quickest (least disturbed), and every repeat."""
    runs = [replay_once(scene, names, detections) for _ in range(repeats)]
    best = min(runs, key=lambda run: run["tracking_ms"] + run["rules_ms"])
    if len({run["digest"] for run in runs}) != 1:
        logger.warning("replays of the same detections differ: %s", [r["digest"] for r in runs])
    return {**best, "repeats": runs}


def _commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    """Detect the clip once, replay the analytics and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (shared yolov8n)")
    parser.add_argument("--frames", type=int, default=300, help="frames of the clip replayed")
    parser.add_argument("--repeats", type=int, default=5, help="replays (the quickest counts)")
    parser.add_argument("--out", type=Path, default=RESULT, help="results JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    scene = load_scene(SCENE)
    model = args.model or shared_path("models", "yolov8n.onnx")
    detector = detector_for(scene, model, ["cpu"])
    detections = detect_clip(detector, sample_video(0), args.frames)
    report: dict[str, Any] = {
        "benchmark": "analytics_replay",
        "commit": _commit(),
        "model": model.name,
        "frames": len(detections),
        "detections_per_frame": round(float(np.mean([len(d) for d in detections])), 2),
        "machine": machine_info(),
        "load_average_at_start": os.getloadavg(),
        **replay(scene, detector.names, detections, args.repeats),
        "load_average_at_end": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(
        f"tracking {report['tracking_ms']:.3f} ms, rules {report['rules_ms']:.3f} ms per frame "
        f"({report['events']} events, digest {report['digest']}); wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
