"""Counting matched crossing by crossing against hand-made truth, per line, class and direction.

A count that is right in total can hide a miss and a double count that cancel, or a car
counted as a motorbike. Here every crossing the ``line_crossing`` rule counts is matched to
one hand-counted crossing of the same line and direction within ``--tolerance`` frames (and
near it along the line, where the truth says where), one to one (Hungarian assignment on
frame and position distance). Reported per line and per class: matched (right class),
wrong class, missed, spurious and wrong direction (a counted crossing that matches a missed
truth crossing of the other direction). The truth files (one CSV per clip,
``tests/analytics/truth/``) and how they were made: ``tests/analytics/ground_truth.md``.

The detector runs once per clip and model; with ``--cache DIR`` its detections (at a low
confidence floor, filtered to the scene's confidence on replay: the same boxes, since NMS
never lets a weaker box remove a stronger one) are kept there, so tracker changes can be
measured in seconds. Run (writes ``benchmarks/results/counting_crossings.json``)::

    python -m benchmarks.counting_crossings [--clips overpass intersection] \
        [--model M.onnx] [--cache DIR --setting NAME] [--label NAME] [--out PATH] \
        [--max-fps 10]

Each clip is processed as ``edge run`` processes its camera: only the frames its capture keeps
under the scene's ``source.max_fps`` (the ingest's own rate limiter), at their media times.
``--max-fps R`` replays at another rate, ``--max-fps 0`` every frame of the file.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmarks.analytics_counting import CLIPS, Clip, crossing_scene
from edge.detections import Detections
from edge.ingest import FrameRateLimiter
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.replay import DEFAULT_EPOCH, at_rate
from edge.scene import SceneConfig
from edge.scene.geometry import as_points, segment_parameter
from traffic_monitor.contract import Event, EventType
from traffic_monitor.shared_data import shared_path

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).parent / "results" / "counting_crossings.json"
TOLERANCE_FRAMES = 20
"""A counted crossing matches a truth crossing at most this many frames away (0.67 s at 30
fps: the hand-marked frame is when the wheels touch the line, the count when the box's
bottom edge is past it, and the box of a near vehicle lags or leads its wheels)."""
POSITION_TOLERANCE_PX = 80.0
"""... and at most this far along the line, where the truth gives a position."""
CACHE_CONFIDENCE = 0.05
"""Confidence floor of cached detections (every scene's threshold is at or above it)."""
CLASSES = ("car", "motorcycle", "bus", "truck", "bicycle", "person")


@dataclass(frozen=True)
class Crossing:
    """One road user crossing one counting line.

    Attributes:
        line: The counting line's name.
        direction: ``in`` or ``out``.
        object_class: car, motorcycle, truck, bus, bicycle or person.
        frame: Frame index of the crossing (wheels on the line; for a count, the frame the
            rule counted it, or for an extrapolated count the frame it would have crossed).
        position: Pixels along the line from its start where it crossed; None: not given.
        required: False for a borderline truth crossing (on the line in the clip's last
            frames, at a line's very end): a count may match it, a miss is no error.
        note: What the road user looks like (truth) or the track id (counted).
    """

    line: str
    direction: str
    object_class: str
    frame: int
    position: float | None = None
    required: bool = True
    note: str = ""


def load_truth(path: Path) -> list[Crossing]:
    """Read a truth CSV (``line,direction,class,frame,position,required,note``).

    Lines starting with ``#`` are comments.

    Raises:
        ValueError: A row with a bad direction, class or frame (the row number is named).
    """
    rows = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    crossings = []
    for number, row in enumerate(csv.DictReader(rows), start=2):
        direction, object_class = row["direction"].strip(), row["class"].strip()
        if direction not in ("in", "out") or object_class not in CLASSES:
            raise ValueError(f"{path} row {number}: bad direction or class {row}")
        position = row.get("position", "").strip()
        crossings.append(
            Crossing(
                line=row["line"].strip(),
                direction=direction,
                object_class=object_class,
                frame=int(row["frame"]),
                position=float(position) if position else None,
                required=(row.get("required") or "1").strip() != "0",
                note=(row.get("note") or "").strip(),
            )
        )
    return crossings


def truth_counts(crossings: Iterable[Crossing], lines: Iterable[str] = ()) -> dict[str, Any]:
    """``{line: {"in": n, "out": n}}`` of the required crossings (every named line present)."""
    counts: dict[str, dict[str, int]] = {line: {"in": 0, "out": 0} for line in lines}
    for crossing in crossings:
        if crossing.required:
            counts.setdefault(crossing.line, {"in": 0, "out": 0})[crossing.direction] += 1
    return counts


def counted_crossings(
    events: Sequence[Event], scene: SceneConfig, fps: float, epoch: float = DEFAULT_EPOCH
) -> list[Crossing]:
    """The crossings the rule counted, from its ``line_crossing`` events (``emit_crossings``)."""
    lines = {line.name: line for line in scene.lines}
    found = []
    for event in events:
        if event.type != EventType.LINE_CROSSING or event.rule != "line_crossing":
            continue
        name = str(event.attributes["line"])
        position = None
        if event.geometry.point is not None and name in lines:
            line = lines[name]
            start, end = as_points([line.start, line.end])
            where = segment_parameter(start, end, as_points(event.geometry.point))
            length = float(np.hypot(line.end[0] - line.start[0], line.end[1] - line.start[1]))
            position = round(float(where[0]) * length, 1)
        traced = event.attributes.get("traced")
        extrapolated = f" traced at its {traced}" if traced else ""
        found.append(
            Crossing(
                line=name,
                direction=str(event.attributes["direction"]),
                object_class=event.object_class or "unknown",
                frame=round((event.time.timestamp() - epoch) * fps),
                position=position,
                note=f"track {event.track_id}{extrapolated}",
            )
        )
    return found


@dataclass
class Matching:
    """Outcome of matching counted crossings to truth crossings."""

    pairs: list[tuple[Crossing, Crossing]] = field(default_factory=list)
    """(truth, counted) of one line and direction; the class may differ."""
    wrong_direction: list[tuple[Crossing, Crossing]] = field(default_factory=list)
    """(truth, counted) where the count has the opposite direction."""
    missed: list[Crossing] = field(default_factory=list)
    spurious: list[Crossing] = field(default_factory=list)
    borderline: list[tuple[Crossing, Crossing | None]] = field(default_factory=list)
    """Borderline truth crossings (not required) and the count that matched each, if any."""


def _pair(
    truth: Sequence[Crossing], counted: Sequence[Crossing], tolerance: int
) -> list[tuple[int, int]]:
    """One-to-one pairs (truth index, counted index) within the gates, closest first."""
    if not truth or not counted:
        return []
    far = 1e6
    cost = np.full((len(truth), len(counted)), far)
    for i, t in enumerate(truth):
        for j, c in enumerate(counted):
            frames = abs(t.frame - c.frame) / tolerance
            along = 0.0
            if t.position is not None and c.position is not None:
                along = abs(t.position - c.position) / POSITION_TOLERANCE_PX
            if frames <= 1 and along <= 1:
                # A class agreement breaks ties between two candidates (two bikes side by side).
                cost[i, j] = frames + along + (0.0 if t.object_class == c.object_class else 0.25)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if cost[i, j] < far]


def match_crossings(
    truth: Sequence[Crossing], counted: Sequence[Crossing], tolerance: int = TOLERANCE_FRAMES
) -> Matching:
    """Match counted crossings to truth: same line and direction first, then wrong direction."""
    result = Matching()
    lines = sorted({c.line for c in truth} | {c.line for c in counted})
    for line in lines:
        left_truth: list[Crossing] = []
        left_counted: list[Crossing] = []
        for direction in ("in", "out"):
            t = [c for c in truth if c.line == line and c.direction == direction]
            k = [c for c in counted if c.line == line and c.direction == direction]
            pairs = _pair(t, k, tolerance)
            result.pairs += [(t[i], k[j]) for i, j in pairs]
            left_truth += [c for i, c in enumerate(t) if i not in {p[0] for p in pairs}]
            left_counted += [c for j, c in enumerate(k) if j not in {p[1] for p in pairs}]
        for direction in ("in", "out"):
            t = [c for c in left_truth if c.direction == direction]
            k = [c for c in left_counted if c.direction != direction]
            pairs = _pair(t, k, tolerance)
            result.wrong_direction += [(t[i], k[j]) for i, j in pairs]
            for i, j in pairs:
                left_truth.remove(t[i])
                left_counted.remove(k[j])
        result.missed += left_truth
        result.spurious += left_counted
    return _set_aside_borderline(result)


def _set_aside_borderline(result: Matching) -> Matching:
    """Move borderline truth crossings, matched or not, out of the scored outcomes."""
    for pairs in (result.pairs, result.wrong_direction):
        for pair in [p for p in pairs if not p[0].required]:
            pairs.remove(pair)
            result.borderline.append(pair)
    result.borderline += [(t, None) for t in result.missed if not t.required]
    result.missed = [t for t in result.missed if t.required]
    return result


def summary_table(matching: Matching, truth: Sequence[Crossing]) -> dict[str, Any]:
    """Per line and class (truth class; counted class for spurious): the five outcomes."""
    table: dict[str, dict[str, Counter[str]]] = {}

    def cell(line: str, object_class: str) -> Counter[str]:
        return table.setdefault(line, {}).setdefault(object_class, Counter())

    for crossing in truth:
        if crossing.required:
            cell(crossing.line, crossing.object_class)["truth"] += 1
    for t, c in matching.pairs:
        key = "matched" if t.object_class == c.object_class else "wrong_class"
        cell(t.line, t.object_class)[key] += 1
    for t, _ in matching.wrong_direction:
        cell(t.line, t.object_class)["wrong_direction"] += 1
    for t in matching.missed:
        cell(t.line, t.object_class)["missed"] += 1
    for c in matching.spurious:
        cell(c.line, c.object_class)["spurious"] += 1
    keys = ("truth", "matched", "wrong_class", "missed", "spurious", "wrong_direction")
    return {
        line: {name: {k: counts[k] for k in keys} for name, counts in sorted(classes.items())}
        for line, classes in sorted(table.items())
    }


def class_counts(truth: Sequence[Crossing], counted: Sequence[Crossing]) -> dict[str, Any]:
    """Hand count and count per class (all lines and directions), and the relative error."""
    hand = Counter(c.object_class for c in truth if c.required)
    got = Counter(c.object_class for c in counted)
    result: dict[str, Any] = {}
    for name in sorted(set(hand) | set(got)):
        error = round((got[name] - hand[name]) / hand[name], 3) if hand[name] else None
        result[name] = {"truth": hand[name], "counted": got[name], "relative_error": error}
    return result


def score(truth: Sequence[Crossing], counted: Sequence[Crossing]) -> dict[str, Any]:
    """Everything the report gives for one clip: table, totals, class counts and the lists."""
    matching = match_crossings(truth, counted)
    right = sum(1 for t, c in matching.pairs if t.object_class == c.object_class)
    return {
        "truth_total": sum(1 for c in truth if c.required),
        "borderline": len(matching.borderline),
        "borderline_counted": sum(1 for _, c in matching.borderline if c is not None),
        "counted_total": len(counted),
        "matched_right_class": right,
        "matched_wrong_class": len(matching.pairs) - right,
        "missed": len(matching.missed),
        "spurious": len(matching.spurious),
        "wrong_direction": len(matching.wrong_direction),
        "false_out": sum(1 for c in matching.spurious if c.direction == "out")
        + sum(1 for _, c in matching.wrong_direction if c.direction == "out"),
        "by_line_and_class": summary_table(matching, truth),
        "by_class": class_counts(truth, counted),
        "errors": {
            "wrong_class": [
                {"truth": asdict(t), "counted": asdict(c)}
                for t, c in matching.pairs
                if t.object_class != c.object_class
            ],
            "wrong_direction": [
                {"truth": asdict(t), "counted": asdict(c)} for t, c in matching.wrong_direction
            ],
            "missed": [asdict(c) for c in matching.missed],
            "spurious": [asdict(c) for c in matching.spurious],
        },
    }


def video_fps(video: Path) -> float:
    """The video's frame rate (30 where the file does not say)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        return float(capture.get(cv2.CAP_PROP_FPS)) or 30.0
    finally:
        capture.release()


def video_frames(video: Path) -> tuple[float, Iterable[np.ndarray[Any, Any]]]:
    """The video's frame rate and an iterator over its frames (BGR)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(video)
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 30.0

    def frames() -> Iterable[np.ndarray[Any, Any]]:
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    return
                yield image
        finally:
            capture.release()

    return fps, frames()


def detect_clip(
    scene: SceneConfig, video: Path, model: Path | None, cache: Path | None, label: str
) -> tuple[float, list[Detections], tuple[str, ...]]:
    """The frame rate, per-frame detections at the scene's confidence, and class names.

    With ``cache``, the detections (at :data:`CACHE_CONFIDENCE`) are read from or written
    to ``cache/<label>.npz``.
    """
    from edge.detector import Detector

    config = scene.detector.model_copy(update={"model": model} if model else {})
    floor = min(CACHE_CONFIDENCE, config.confidence)
    stored = cache / f"{label}.npz" if cache is not None else None
    if stored is not None and stored.exists():
        fps, per_frame, names = _read_cache(stored)
    else:
        detector = Detector(config.model_copy(update={"confidence": floor, "max_detections": 1000}))
        names = tuple(detector.names)
        fps, frames = video_frames(video)
        per_frame = [detector.detect_one(image) for image in frames]
        if stored is not None:
            _write_cache(stored, fps, per_frame, names)
    kept = [d[d.confidence >= config.confidence][: config.max_detections] for d in per_frame]
    return fps, kept, names


def _write_cache(
    path: Path, fps: float, per_frame: Sequence[Detections], names: Sequence[str]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = np.array([len(d) for d in per_frame], dtype=np.int64)
    xyxy = [d.xyxy for d in per_frame]
    np.savez_compressed(
        path,
        fps=np.array(fps),
        counts=counts,
        xyxy=np.concatenate(xyxy) if xyxy else np.zeros((0, 4), np.float32),
        confidence=np.concatenate([d.confidence for d in per_frame]),
        class_id=np.concatenate([d.class_id for d in per_frame]),
        names=np.array(list(names)),
    )


def _read_cache(path: Path) -> tuple[float, list[Detections], tuple[str, ...]]:
    data = np.load(path)
    ends = np.cumsum(data["counts"])
    starts = ends - data["counts"]
    per_frame = [
        Detections(data["xyxy"][a:b], data["confidence"][a:b], data["class_id"][a:b])
        for a, b in zip(starts, ends, strict=True)
    ]
    return float(data["fps"]), per_frame, tuple(str(n) for n in data["names"])


def replay_detections(
    scene: SceneConfig,
    names: Sequence[str],
    per_frame: Sequence[Detections],
    fps: float,
    max_fps: float | None = None,
) -> tuple[CameraAnalytics, list[Event]]:
    """Per-frame detections through fresh analytics (no images), ending with ``finish``.

    With ``max_fps``, only the frames a camera limited to that rate keeps (the ingest's own
    :class:`~edge.ingest.FrameRateLimiter`) reach the analytics, at their media times.
    """
    analytics = CameraAnalytics(scene, names)
    rate = FrameRateLimiter(max_fps)
    events: list[Event] = []
    for index, detections in enumerate(per_frame):
        timestamp = index / fps
        if not rate.keep(timestamp):
            continue
        events += analytics.process(
            detections, index=index, timestamp=timestamp, wall_time=DEFAULT_EPOCH + timestamp
        )
    events += analytics.finish()
    return analytics, events


def evaluate_clip(
    name: str,
    model: Path | None = None,
    cache: Path | None = None,
    setting: str = "scene",
    max_fps: float | None = None,
) -> dict[str, Any]:
    """Detect (or read cached detections), track, count and match one clip.

    ``setting`` names the detector setting in the cache (``<clip>_<setting>.npz``);
    ``max_fps`` processes the clip as a camera limited to that rate (``source.max_fps``);
    None: the scene's own (as ``edge run`` processes it), 0: every frame.
    """
    clip: Clip = CLIPS[name]
    scene = at_rate(crossing_scene(clip.config), max_fps)
    fps, per_frame, names = detect_clip(
        scene, shared_path(*clip.video), model, cache, f"{name}_{setting}"
    )
    rate = scene.source.max_fps
    _, events = replay_detections(scene, names, per_frame, fps, rate)
    counted = counted_crossings(events, scene, fps)
    truth = load_truth(clip.truth_file)
    return {
        "model": str(model or scene.detector.model or "default"),
        "processed_fps": min(rate or fps, fps),
        **score(truth, counted),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the clips and write (merge into) the JSON results under ``--label``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clips", nargs="+", default=["overpass", "intersection"])
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (scene default)")
    parser.add_argument("--cache", type=Path, default=None, help="folder of cached detections")
    parser.add_argument("--setting", default="scene", help="detector setting's cache name")
    parser.add_argument("--label", default="scene", help="name of this run in the results")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (merged)")
    parser.add_argument(
        "--max-fps",
        type=float,
        default=None,
        help="process each clip at most at this rate (default: its scene's source.max_fps; "
        "0: every frame)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    report: dict[str, Any] = {}
    if args.out.exists():
        report = json.loads(args.out.read_text(encoding="utf-8"))
    for name in args.clips:
        result = evaluate_clip(name, args.model, args.cache, args.setting, args.max_fps)
        report.setdefault(args.label, {})[name] = result
        print(
            f"{args.label} {name}: truth {result['truth_total']} counted "
            f"{result['counted_total']} right {result['matched_right_class']} wrong class "
            f"{result['matched_wrong_class']} missed {result['missed']} spurious "
            f"{result['spurious']} wrong direction {result['wrong_direction']}"
        )
    report.setdefault("_load_average", {})[args.label] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
