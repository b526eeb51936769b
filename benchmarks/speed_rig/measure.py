"""Run the edge path (detector, tracker, speed from the calibration) on a rendered scene."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from benchmarks.speed_rig.render import Image, Scene, Truth, render_frame
from benchmarks.speed_rig.rules_check import RuleCheck
from calibration.auto import vertical_edges
from calibration.camera import CameraModel
from edge.detections import NO_TRACK, Detections
from edge.rules.kinematics import MPS_TO_KMH, fit_speed, recent_points
from edge.tracking import ByteTracker, TrackerConfig

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
DetectFn = Callable[[Image], Detections]

SPEED_WINDOW_S = 1.0
"""Window of the least-squares speed fit (the speed rule's smoothing)."""

MIN_SPAN_S = 0.6
"""An estimate needs this much track history inside the window."""

MATCH_IOU = 0.3
"""A tracked box belongs to a vehicle when their IoU is at least this."""


@dataclass
class TrackLog:
    """What one run recorded about a track (anchors are bottom centres of the boxes)."""

    times: list[float] = field(default_factory=list)
    anchors: list[tuple[float, float]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    boxes: list[FloatArray] = field(default_factory=list)
    vehicle_votes: Counter[int] = field(default_factory=Counter)


@dataclass
class SceneRun:
    """Detections/tracks of one scene plus its truth, ready to score with any calibration."""

    scene: Scene
    truths: list[Truth]
    tracks: dict[int, TrackLog]
    estimates: list[tuple[int, float, FloatArray, FloatArray]]
    """(track id, frame time, window timestamps, window anchors) per speed opportunity."""
    edges: list[FloatArray] = field(default_factory=list)
    """Near-vertical edge segments inside tracked boxes (for method 3)."""
    rules: RuleCheck | None = None
    """The counting and wrong-way rules fed with the same tracks."""


def _iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


EDGE_EVERY = 5
"""Collect vehicle edges for method 3 from every this-many frames."""


def run_scene(scene: Scene, detect: DetectFn, class_names: tuple[str, ...]) -> SceneRun:
    """Render every frame, detect, track, and log the speed windows of tracked vehicles."""
    rng = np.random.default_rng(scene.seed)
    tracker = ByteTracker(TrackerConfig(), class_names=class_names)
    run = SceneRun(scene, [], defaultdict(TrackLog), [])
    run.rules = RuleCheck.for_mount(scene.mount, class_names)
    for index in range(scene.frame_count):
        image, truth = render_frame(scene, index, rng)
        run.truths.append(truth)
        tracked = tracker.update(detect(image), timestamp=truth.time)
        _log_frame(run, tracker, tracked, truth)
        run.rules.feed(index, truth.time, tracked, tracker.tracks)
        if index % EDGE_EVERY == 0:
            confirmed = tracked.xyxy[tracked.tracker_id != NO_TRACK].astype(np.float64)
            run.edges.append(vertical_edges(image, confirmed))
    run.rules.finish()
    run.tracks = dict(run.tracks)
    return run


def _log_frame(run: SceneRun, tracker: ByteTracker, tracked: Detections, truth: Truth) -> None:
    for row in range(len(tracked)):
        track_id = int(tracked.tracker_id[row])
        if track_id == NO_TRACK:
            continue
        box = tracked.xyxy[row].astype(np.float64)
        log = run.tracks[track_id]
        log.times.append(truth.time)
        log.anchors.append((float(box[0] + box[2]) / 2, float(box[3])))
        log.widths.append(float(box[2] - box[0]))
        log.boxes.append(box)
        if truth.visible.any():
            overlap = _iou(box, truth.box)
            overlap[~truth.visible] = 0
            if overlap.max() >= MATCH_IOU:
                log.vehicle_votes[int(overlap.argmax())] += 1
        times, xy = recent_points(tracker.tracks[track_id], SPEED_WINDOW_S)
        if len(times) >= 3 and times[-1] - times[0] >= MIN_SPAN_S:
            run.estimates.append((track_id, truth.time, times, xy))


@dataclass(frozen=True)
class Score:
    """Speed errors of one scene with one calibration."""

    errors_kmh: list[float]
    vehicles_eligible: int
    vehicles_measured: int
    per_vehicle_mae_kmh: dict[int, float]

    def summary(self) -> dict[str, float | int | None]:
        """MAE, p95, max, samples and measured share."""
        errors = np.asarray(self.errors_kmh)
        has = len(errors) > 0
        return {
            "mae_kmh": round(float(errors.mean()), 3) if has else None,
            "p95_kmh": round(float(np.percentile(errors, 95)), 3) if has else None,
            "max_kmh": round(float(errors.max()), 3) if has else None,
            "samples": len(errors),
            "vehicles": self.vehicles_eligible,
            "vehicles_measured": self.vehicles_measured,
            "measured_share": round(self.vehicles_measured / self.vehicles_eligible, 3)
            if self.vehicles_eligible
            else None,
        }


def track_vehicle(log: TrackLog) -> int | None:
    """The vehicle a track followed most often (None: never matched)."""
    if not log.vehicle_votes:
        return None
    return log.vehicle_votes.most_common(1)[0][0]


def score(run: SceneRun, model: CameraModel, min_visible_s: float = 1.0) -> Score:
    """Compare every speed estimate with the truth at the window's mean time."""
    owner = {tid: track_vehicle(log) for tid, log in run.tracks.items()}
    errors: list[float] = []
    per_vehicle: dict[int, list[float]] = defaultdict(list)
    for track_id, _, times, xy in run.estimates:
        vehicle = owner.get(track_id)
        if vehicle is None:
            continue
        # what edge.rules.kinematics.world_speed does with the track's window
        estimate = fit_speed(times, np.asarray(model.image_to_world(xy)), 0.0)
        if estimate is None or not np.isfinite(estimate.speed):
            continue
        trajectory = run.scene.vehicles[vehicle].trajectory
        _, truth = trajectory.state(np.array([float(times.mean())]))
        error = abs(estimate.speed - float(truth[0])) * MPS_TO_KMH
        errors.append(error)
        per_vehicle[vehicle].append(error)
    visible_s = np.sum([t.visible for t in run.truths], axis=0) / run.scene.fps
    eligible = {int(v) for v in np.flatnonzero(visible_s >= min_visible_s)}
    measured = eligible & set(per_vehicle)
    return Score(
        errors_kmh=errors,
        vehicles_eligible=len(eligible),
        vehicles_measured=len(measured),
        per_vehicle_mae_kmh={v: float(np.mean(e)) for v, e in per_vehicle.items()},
    )


def tracks_for_auto(runs: list[SceneRun]) -> list[tuple[FloatArray, FloatArray]]:
    """Anchors ``(N, 2)`` and box widths ``(N,)`` of every track, for method 3."""
    return [
        (np.asarray(log.anchors, dtype=np.float64), np.asarray(log.widths, dtype=np.float64))
        for run in runs
        for log in run.tracks.values()
    ]


def describe(scores: Mapping[str, Score]) -> dict[str, dict[str, float | int | None]]:
    """Summaries by name."""
    return {name: value.summary() for name, value in scores.items()}
