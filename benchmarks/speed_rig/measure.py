"""Run the edge path (detector, tracker, speed from the calibration) on a rendered scene."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.speed_rig.cache import CachedScene, load, save
from benchmarks.speed_rig.render import Image, Scene, Truth, render_frame, truth_at
from benchmarks.speed_rig.rules_check import RuleCheck
from calibration.auto import vertical_edges
from calibration.camera import CameraModel
from edge.detections import NO_TRACK, Detections
from edge.rules.kinematics import (
    MPS_TO_KMH,
    RIGID_VEHICLE,
    ROAD_JUMPS,
    RigidCheck,
    box_at_frame_edge,
    implied_heights,
    kept_points,
    recent_boxes,
    robust_speed,
)
from edge.tracking import ByteTracker, TrackerConfig

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
DetectFn = Callable[[Image], Detections]

SPEED_WINDOW_S = 1.0
"""Window of the least-squares speed fit (the speed rule's smoothing)."""

MIN_SPAN_S = 0.6
"""An estimate needs this much track history inside the window (after the jump filter)."""

EDGE_MARGIN_PX = 4.0
"""A box within this many pixels of the left, right or bottom frame edge is cut off there
(a car half out of the frame gets detector boxes ending 1–4 px short of the edge)."""

MATCH_IOU = 0.3
"""A tracked box belongs to a vehicle when their IoU is at least this."""


@dataclass
class TrackLog:
    """What one run recorded about a track (anchors are bottom centres of the boxes)."""

    times: list[float] = field(default_factory=list)
    anchors: list[tuple[float, float]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    boxes: list[FloatArray] = field(default_factory=list)
    vehicles: list[int | None] = field(default_factory=list)
    """The vehicle each box matched (IoU >= MATCH_IOU) in its frame, None where none did."""
    vehicle_votes: Counter[int] = field(default_factory=Counter)

    def vehicles_at(self, times: FloatArray) -> list[int]:
        """Vehicles matched in the frames at ``times`` (unmatched frames left out), in order."""
        wanted = {round(float(t), 6) for t in times}
        return [
            v
            for t, v in zip(self.times, self.vehicles, strict=True)
            if v is not None and round(t, 6) in wanted
        ]


@dataclass
class SceneRun:
    """Detections/tracks of one scene plus its truth, ready to score with any calibration."""

    scene: Scene
    truths: list[Truth]
    tracks: dict[int, TrackLog]
    estimates: list[tuple[int, float, FloatArray, FloatArray, FloatArray]]
    """(track id, frame time, window timestamps, window anchors, window box heights) per speed
    opportunity: frames whose box is clear of the frame edges with at least ``MIN_SPAN_S`` of
    track in the window."""
    edges: list[FloatArray] = field(default_factory=list)
    """Near-vertical edge segments inside tracked boxes (for method 3)."""
    rules: RuleCheck | None = None
    """The counting and wrong-way rules fed with the same tracks."""
    from_cache: bool = False
    """Detections and edges came from the scene cache (nothing was rendered)."""


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


def run_scene(
    scene: Scene,
    detect: DetectFn,
    class_names: tuple[str, ...],
    cache: Path | None = None,
) -> SceneRun:
    """Render every frame, detect, track, and log the speed windows of tracked vehicles.

    Args:
        scene: The scene.
        detect: The detector.
        class_names: The detector's class names.
        cache: A cache file (see ``benchmarks.speed_rig.cache``): when it exists its
            detections and edges replace rendering and detecting; otherwise they are written
            there. None renders without a cache.
    """
    cached = load(cache) if cache is not None else None
    if cached is not None:
        logger.info("scene %s: detections from the cache %s", scene.name, cache)
    rng = np.random.default_rng(scene.seed)
    tracker = ByteTracker(TrackerConfig(), class_names=class_names)
    run = SceneRun(scene, [], defaultdict(TrackLog), [])
    run.rules = RuleCheck.for_mount(scene.mount, class_names)
    found: list[Detections] = []
    for index in range(scene.frame_count):
        if cached is not None:
            truth = truth_at(scene, index / scene.fps)
            detections = cached.detections[index]
        else:
            image, truth = render_frame(scene, index, rng)
            detections = detect(image)
            found.append(detections)
        run.truths.append(truth)
        result = tracker.update(detections, timestamp=truth.time)
        tracked = result.detections
        _log_frame(run, tracker, tracked, truth)
        run.rules.feed(index, truth.time, tracked, tracker.tracks, result.ended)
        if index % EDGE_EVERY == 0 and cached is None:
            confirmed = tracked.xyxy[tracked.tracker_id != NO_TRACK].astype(np.float64)
            run.edges.append(vertical_edges(image, confirmed))
    run.rules.finish()
    run.tracks = dict(run.tracks)
    if cached is not None:
        run.edges, run.from_cache = cached.edges, True
    elif cache is not None:
        save(cache, CachedScene(found, run.edges))
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
        vehicle = _match_vehicle(box, truth)
        log.vehicles.append(vehicle)
        if vehicle is not None:
            log.vehicle_votes[vehicle] += 1
        if box_at_frame_edge(box, run.scene.mount.image_size, EDGE_MARGIN_PX):
            continue  # what the speeding rule does: no speed for a box cut by the frame
        times, xy, heights = recent_boxes(tracker.tracks[track_id], SPEED_WINDOW_S)
        inside = xy[:, 1] < run.scene.mount.image_size[1] - EDGE_MARGIN_PX
        times, xy, heights = times[inside], xy[inside], heights[inside]  # world_speed's bottom_px
        if len(times) >= 3 and times[-1] - times[0] >= MIN_SPAN_S:
            run.estimates.append((track_id, truth.time, times, xy, heights))


def _match_vehicle(box: FloatArray, truth: Truth) -> int | None:
    """The visible vehicle whose true box overlaps ``box`` most, if by IoU >= MATCH_IOU."""
    if not truth.visible.any():
        return None
    overlap = _iou(box, truth.box)
    overlap[~truth.visible] = 0
    return int(overlap.argmax()) if overlap.max() >= MATCH_IOU else None


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


def window_owner(log: TrackLog, times: FloatArray) -> int | None:
    """The vehicle a speed estimate is about: the one the track matched most at ``times``.

    ``times`` are the timestamps of the anchors the speed was fitted on; ties go to the
    newest. Not the track's majority vehicle over its whole life: after an id switch that is
    another car with another speed, and every estimate after the switch was compared with it.
    """
    matched = log.vehicles_at(times)
    if not matched:
        return None
    votes = Counter(matched)
    best = max(votes.values())
    return next(v for v in reversed(matched) if votes[v] == best)


def score(
    run: SceneRun,
    model: CameraModel,
    min_visible_s: float = 1.0,
    rigid: RigidCheck | None = RIGID_VEHICLE,
) -> Score:
    """Compare every speed estimate with the truth at the mean time of the fitted anchors.

    ``rigid`` is the speeding rule's box-height check (None scores without it).
    """
    errors: list[float] = []
    per_vehicle: dict[int, list[float]] = defaultdict(list)
    for track_id, _, times, xy, heights in run.estimates:
        # what edge.rules.kinematics.world_speed does with the track's window
        world = np.asarray(model.image_to_world(xy), dtype=np.float64)
        sizes = implied_heights(xy, heights, model) if rigid is not None else None
        estimate = robust_speed(times, world, 0.0, ROAD_JUMPS, MIN_SPAN_S, sizes=sizes, rigid=rigid)
        if estimate is None or not np.isfinite(estimate.speed):
            continue
        kept = times[kept_points(times, world, ROAD_JUMPS, sizes, rigid)]
        vehicle = window_owner(run.tracks[track_id], kept)
        if vehicle is None:
            continue
        trajectory = run.scene.vehicles[vehicle].trajectory
        _, truth = trajectory.state(np.array([float(kept.mean())]))
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
