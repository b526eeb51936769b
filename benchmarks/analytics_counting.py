"""Counting accuracy of the edge analytics on the shared clips, against hand-made counts.

Each clip runs through the real detector, tracker and rules with its scene config
(``configs/``); the counts per line and direction are compared with the ground truth of
``tests/analytics/ground_truth.md`` (how it was made is written there). The intersection
clip also reports its red-light crossings per signal state. Run (writes
``benchmarks/results/analytics_counting.json``; ~3 min on a 2-core CPU)::

    .venv/bin/python -m benchmarks.analytics_counting [--model PATH] [--out PATH]

The slow tests (``tests/analytics/test_real_video.py``) run the same code and assert the
error bounds; they write nothing into the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.replay import at_rate, line_counts, replay
from edge.scene import SceneConfig, load_scene
from traffic_monitor.contract import Event, EventType
from traffic_monitor.shared_data import REPO_ROOT, shared_path

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).parent / "results" / "analytics_counting.json"
CONFIGS = REPO_ROOT / "configs"

Counts = dict[str, dict[str, int]]
"""``{line: {"in": n, "out": n}}``."""


TRUTH = REPO_ROOT / "tests" / "analytics" / "truth"
"""Hand-made crossings, one CSV per clip (``benchmarks.counting_crossings.load_truth``)."""


@dataclass(frozen=True)
class Clip:
    """A shared clip, its scene config and its hand-made crossings."""

    video: tuple[str, ...]
    """Path of the video under the shared data folder."""
    config: Path
    truth_file: Path
    """CSV of every hand-counted crossing (line, direction, class, frame)."""

    @property
    def truth(self) -> Counts:
        """Hand counts per line and direction, from the truth file."""
        from benchmarks.counting_crossings import load_truth, truth_counts

        return truth_counts(load_truth(self.truth_file))


CLIPS: dict[str, Clip] = {
    "overpass": Clip(
        video=("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4"),
        config=CONFIGS / "vn_nga_ba_hue_overpass.yaml",
        truth_file=TRUTH / "overpass.csv",
    ),
    "intersection": Clip(
        video=("data", "videos", "intersection_cctv_30s.mp4"),
        config=CONFIGS / "intersection_cctv.yaml",
        truth_file=TRUTH / "intersection.csv",
    ),
    "boulevard": Clip(
        video=("data", "videos", "vn_boulevard_ptz_10s.mp4"),
        config=CONFIGS / "vn_boulevard_ptz.yaml",
        truth_file=TRUTH / "boulevard.csv",
    ),
}
"""The boulevard clip stands in for an unseen camera: nothing is tuned on it."""


def counting_errors(counted: Counts, truth: Counts) -> dict[str, Any]:
    """Compare counts per line and direction with the truth.

    Returns:
        ``errors`` (counted − truth per line and direction), ``abs_error`` (sum of absolute
        errors over lines and directions), ``truth_total`` and ``relative_error``
        (abs_error / truth_total): a missed and a spurious crossing add up, never cancel.
    """
    errors = {
        line: {
            direction: counted.get(line, {}).get(direction, 0) - expected
            for direction, expected in directions.items()
        }
        for line, directions in truth.items()
    }
    abs_error = sum(abs(e) for line in errors.values() for e in line.values())
    total = sum(n for line in truth.values() for n in line.values())
    return {
        "errors": errors,
        "abs_error": abs_error,
        "truth_total": total,
        "relative_error": abs_error / total if total else 0.0,
    }


def crossing_scene(path: Path) -> SceneConfig:
    """A clip's scene with the line-crossing rule emitting one event per crossing.

    The events change nothing in the counts; they let each crossing be matched to the truth.
    """
    scene = load_scene(path)
    rules = {name: dict(params) for name, params in scene.rules.items()}
    rules.setdefault("line_crossing", {})["emit_crossings"] = True
    return SceneConfig.model_validate(scene.model_dump() | {"rules": rules})


def run_clip(
    clip: Clip, model: Path | None = None, video: Path | None = None, max_fps: float | None = None
) -> tuple[CameraAnalytics, list[Event]]:
    """Replay a clip through its scene's detector, tracker and rules (crossings emitted).

    The frames are those its camera processes (``source.max_fps``); ``max_fps`` replaces
    the scene's rate (0: every frame).
    """
    from edge.detector import Detector

    scene = at_rate(crossing_scene(clip.config), max_fps)
    detector_config = scene.detector
    if model is not None:
        detector_config = detector_config.model_copy(update={"model": model})
    detector = Detector(detector_config)
    analytics = CameraAnalytics(scene, detector.names)
    events = replay(video or shared_path(*clip.video), analytics, detector)
    return analytics, events


def red_light_summary(analytics: CameraAnalytics, events: list[Event]) -> dict[str, Any]:
    """Crossings of the stop lines per signal state and the violations raised."""
    crossings: dict[str, int] = {}
    for rule in analytics.rules:
        if rule.name == "red_light":
            crossings = dict(getattr(rule, "crossings", {}))
    violations = sum(1 for e in events if e.type == EventType.RED_LIGHT)
    return {"crossings_by_state": crossings, "violations": violations}


def evaluate(name: str, model: Path | None = None) -> dict[str, Any]:
    """Run one clip and summarise its counts (and red-light crossings where configured)."""
    clip = CLIPS[name]
    analytics, events = run_clip(clip, model)
    counted = line_counts(analytics)
    result: dict[str, Any] = {
        "truth": clip.truth,
        "counted": counted,
        **counting_errors(counted, clip.truth),
    }
    if analytics.scene.stop_lines:
        result["red_light"] = red_light_summary(analytics, events)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run every clip and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (scene default)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    parser.add_argument(
        "--clips", nargs="+", default=["overpass", "intersection"], choices=list(CLIPS)
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    report: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    for name in args.clips:
        report[name] = evaluate(name, args.model)
        summary = report[name]
        print(
            f"{name}: counted {summary['counted']} truth {summary['truth']} "
            f"error {summary['abs_error']}/{summary['truth_total']} "
            f"({summary['relative_error']:.1%})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
