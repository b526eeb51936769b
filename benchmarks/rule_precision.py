"""Each alerting rule's precision and recall on real video, and false alerts per camera-hour.

The real pipeline (the scene's detector, tracker and rules; ``CameraAnalytics`` fed every
frame with its image, as ``edge run`` does) runs over both shared clips, and each alert is
judged against hand-verified event truth (``tests/analytics/event_truth/*.yaml``, how it was
made: the README there). An alert is what reaches an operator: an instant event of severity
medium or above, or the first such event of an incident (``attributes.incident_id``). It is
true when it names a truth event of its rule (an alert inside the event's frames, about the
same road user or condition); a second alert about an event already alerted is counted as a
duplicate (true, but noise). Recall counts the truth events marked ``required``.

Each clip is processed as ``edge run`` processes its camera: the frames its scene's
``source.max_fps`` keeps (``--max-fps R`` replaces that rate, ``--max-fps 0`` processes every
frame). The demo (``traffic-monitor demo``) loops the overpass clip in real time with the
overpass config: ``--demo-loops`` replays that, the same analytics across loops with media
time running on, of the processed frames every ``--demo-stride``-th (the frames a CPU box
keeps in real time), and counts the alerts the truth calls false, per camera-hour.
``--realtime-s`` runs the demo's own edge pipeline (a looping real-time capture worker, the
detector, the analytics) for that long.

The detector is the scene's unless overridden (``--detector confidence=0.3 --detector
model=PATH``), so the figures can be re-run when the default detector changes. Detections
are cached (``--cache``) by detector settings, model file and video. Run::

    .venv/bin/python -m benchmarks.rule_precision --label after [--demo-loops 30]

which writes ``benchmarks/results/rule_precision_<label>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from pydantic import TypeAdapter

from benchmarks.analytics_replay import _commit
from benchmarks.detection_path import machine_info
from edge.detections import Detections
from edge.detector import Detector, DetectorConfig
from edge.detector.resolve import resolve_model_path
from edge.ingest import FrameRateLimiter
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.replay import at_rate
from edge.scene import SceneConfig, load_scene
from edge.scene.rules import RuleSettings
from traffic_monitor.contract import Event, EventType, Severity
from traffic_monitor.shared_data import REPO_ROOT, shared_path

logger = logging.getLogger(__name__)

TRUTH_DIR = Path(__file__).resolve().parent.parent / "tests" / "analytics" / "event_truth"
"""Beside this file, so a run against another checkout's code (``PYTHONPATH``) judges by it."""
RESULTS = Path(__file__).parent / "results"
ALERT_SEVERITIES = {Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL}
NOT_ALERTS = {EventType.COUNT, EventType.ZONE_OCCUPANCY, EventType.LINE_CROSSING}
FRAME_SLACK = 15
"""Frames an alert may fall outside a truth event's range (half a second at 30 fps)."""
EPOCH = 1.7e9


@dataclass(frozen=True)
class Clip:
    """A shared clip with its scene config and event truth."""

    name: str
    config: Path
    video: tuple[str, ...]
    truth: Path
    add_rules: tuple[str, ...] = ()
    """Rules judged on this clip that its scene config does not run (default settings)."""


CLIPS = {
    "overpass": Clip(
        "overpass",
        REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml",
        ("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4"),
        TRUTH_DIR / "overpass.yaml",
    ),
    "intersection": Clip(
        "intersection",
        REPO_ROOT / "configs" / "intersection_cctv.yaml",
        ("data", "videos", "intersection_cctv_30s.mp4"),
        TRUTH_DIR / "intersection.yaml",
    ),
    "boulevard": Clip(
        "boulevard",
        REPO_ROOT / "configs" / "vn_boulevard_ptz.yaml",
        ("data", "videos", "vn_boulevard_ptz_10s.mp4"),
        TRUTH_DIR / "boulevard.yaml",
        add_rules=("no_helmet",),
    ),
}


@dataclass(frozen=True)
class Alert:
    """One alert an operator gets: its rule, frame of the clip, box and details."""

    rule: str
    frame: int
    loop: int
    bbox: tuple[float, float, float, float] | None
    zone: str | None
    attributes: dict[str, Any]
    measurements: dict[str, Any]
    track_id: int | None


@dataclass
class TruthEvent:
    """One event an operator should (``required``) or may get, from the truth file."""

    id: str
    rule: str
    frames: tuple[int, int]
    boxes: dict[int, tuple[float, float, float, float]]
    attributes: dict[str, Any]
    zone: str | None
    required: bool
    what: str
    measurements: dict[str, float] = field(default_factory=dict)

    def box_at(self, frame: int) -> tuple[float, float, float, float] | None:
        """The road user's box at ``frame``, linear between key boxes (None: no boxes)."""
        if not self.boxes:
            return None
        keys = sorted(self.boxes)
        values = np.array([self.boxes[k] for k in keys], dtype=np.float64)
        box = [float(np.interp(frame, keys, values[:, i])) for i in range(4)]
        return box[0], box[1], box[2], box[3]


@dataclass
class Probe:
    """A recall check: the clip with some zone kinds removed, one rule, its true events."""

    name: str
    rule: str
    remove_zone_kinds: list[str]
    events: list[TruthEvent]


@dataclass
class Truth:
    """The truth of one clip: every judged rule's events, and recall probes."""

    clip: str
    frames: int
    rules: dict[str, list[TruthEvent]] = field(default_factory=dict)
    probes: list[Probe] = field(default_factory=list)


def load_truth(path: Path) -> Truth:
    """Read a truth YAML file (format: ``tests/analytics/event_truth/README.md``)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    truth = Truth(clip=raw["clip"], frames=int(raw["frames"]))
    for rule, section in raw["rules"].items():
        truth.rules[rule] = _events(rule, section.get("events"))
    for name, section in (raw.get("probes") or {}).items():
        rule = section["rule"]
        kinds = list(section.get("remove_zone_kinds") or [])
        truth.probes.append(Probe(name, rule, kinds, _events(rule, section.get("events"))))
    return truth


def _events(rule: str, items: list[dict[str, Any]] | None) -> list[TruthEvent]:
    events = []
    for item in items or []:
        first, last = item["frames"]
        events.append(
            TruthEvent(
                id=str(item["id"]),
                rule=rule,
                frames=(int(first), int(last)),
                boxes={int(k): tuple(v) for k, v in (item.get("boxes") or {}).items()},
                attributes=dict(item.get("attributes") or {}),
                zone=item.get("zone"),
                required=bool(item.get("required", True)),
                what=str(item.get("what", "")),
                measurements={k: float(v) for k, v in (item.get("measurements") or {}).items()},
            )
        )
    return events


def probe_scene(scene: SceneConfig, probe: Probe) -> SceneConfig:
    """The scene with the probe's zone kinds removed and only the probe's rule."""
    zones = [zone for zone in scene.zones if zone.kind.value not in probe.remove_zone_kinds]
    rules: dict[str, Any] = {probe.rule: scene.rules.get(probe.rule) or {}}
    return scene.model_copy(update={"zones": zones, "rules": rules})


# ---- detection (cached) -----------------------------------------------------------------------


def detector_config(scene: SceneConfig, overrides: dict[str, Any]) -> DetectorConfig:
    """The scene's detector settings with ``overrides`` applied (validated)."""
    return DetectorConfig.model_validate({**scene.detector.model_dump(), **overrides})


def cache_key(config: DetectorConfig, video: Path) -> str:
    """Key of a clip's detections: detector settings, model file and video file."""
    model = resolve_model_path(config.model)
    parts = [config.model_dump_json(), str(model), str(_stat(model)), str(video), str(_stat(video))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, int(info.st_mtime)


def detect_video(
    config: DetectorConfig, video: Path, cache: Path | None
) -> tuple[tuple[str, ...], list[Detections]]:
    """The detector's class names and its detections of every frame of ``video``."""
    detector = Detector(config)
    path = None if cache is None else cache / f"{video.stem}_{cache_key(config, video)}.npz"
    if path is not None and path.is_file():
        logger.info("detections from %s", path)
        return detector.names, _load_detections(path)
    found: list[Detections] = []
    started = time.perf_counter()
    for _, image in frames_of(video):
        found.append(detector.detect_one(image))
    logger.info("detected %s frames in %.0f s", len(found), time.perf_counter() - started)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _save_detections(path, found)
    return detector.names, found


def _save_detections(path: Path, frames: Sequence[Detections]) -> None:
    counts = np.array([len(d) for d in frames], dtype=np.int64)
    np.savez_compressed(
        path,
        counts=counts,
        xyxy=np.concatenate([d.xyxy for d in frames]).reshape(-1, 4),
        confidence=np.concatenate([d.confidence for d in frames]),
        class_id=np.concatenate([d.class_id for d in frames]),
    )


def _load_detections(path: Path) -> list[Detections]:
    data = np.load(path)
    ends = np.cumsum(data["counts"])
    starts = ends - data["counts"]
    return [
        Detections(data["xyxy"][a:b], data["confidence"][a:b], data["class_id"][a:b])
        for a, b in zip(starts, ends, strict=True)
    ]


def frames_of(
    video: Path, wanted: Callable[[int], bool] = lambda index: True
) -> Iterator[tuple[int, np.ndarray[Any, Any]]]:
    """The frames of a video whose index is ``wanted``, with their index (others skipped)."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open {video}")
    index = 0
    try:
        while capture.grab():
            if wanted(index):
                ok, image = capture.retrieve()
                if not ok:
                    return
                yield index, image
            index += 1
    finally:
        capture.release()


# ---- replay and alerts -----------------------------------------------------------------------


def replay(
    scene: SceneConfig,
    names: Sequence[str],
    detections: Sequence[Detections],
    video: Path,
    *,
    loops: int = 1,
    stride: int = 1,
    fps: float = 30.0,
) -> list[Alert]:
    """Alerts of the analytics fed ``loops`` passes of the clip.

    The frames are those ``edge run`` processes: the ones the scene's ``source.max_fps``
    keeps (the ingest's :class:`~edge.ingest.FrameRateLimiter`), of those every
    ``stride``-th (a box that keeps only some frames in real time). Media time runs on across
    loops (as the demo's looping capture stamps it); the tracker and the rules keep their
    state, so what happens at the seam is seen as the demo sees it.
    """
    analytics = CameraAnalytics(scene, names)
    rate = FrameRateLimiter(scene.source.max_fps)
    events: list[tuple[int, int, Event]] = []
    count = len(detections)
    for loop in range(loops):

        def kept(index: int, loop: int = loop) -> bool:
            media = loop * count + index
            return rate.keep(media / fps) and media % stride == 0

        for index, image in frames_of(video, kept):
            if index >= count:
                break
            timestamp = (loop * count + index) / fps
            found = analytics.process(
                detections[index],
                index=loop * count + index,
                timestamp=timestamp,
                wall_time=EPOCH + timestamp,
                image=image,
            )
            events.extend((loop, index, event) for event in found)
    events.extend((loops - 1, count - 1, event) for event in analytics.finish())
    return alerts_of(events)


def alerts_of(events: Sequence[tuple[int, int, Event]]) -> list[Alert]:
    """The alerts among ``(loop, frame, event)``: alert-level instants and incidents."""
    alerts: list[Alert] = []
    seen_incidents: set[str] = set()
    for loop, frame, event in events:
        if event.type in NOT_ALERTS or event.severity not in ALERT_SEVERITIES:
            continue
        incident = event.attributes.get("incident_id")
        if incident is not None:
            if incident in seen_incidents:
                continue
            seen_incidents.add(str(incident))
        alerts.append(
            Alert(
                rule=event.rule,
                frame=frame,
                loop=loop,
                bbox=event.geometry.bbox,
                zone=event.geometry.zone,
                attributes=dict(event.attributes.items()),
                measurements=dict(event.measurements.items()),
                track_id=event.track_id,
            )
        )
    return alerts


# ---- judging ---------------------------------------------------------------------------------


def matches(alert: Alert, truth: TruthEvent) -> bool:
    """Whether an alert is about a truth event: its frames, road user, zone and condition."""
    first, last = truth.frames
    if not first - FRAME_SLACK <= alert.frame <= last + FRAME_SLACK:
        return False
    if truth.zone is not None and alert.zone != truth.zone:
        return False
    if any(alert.attributes.get(k) != v for k, v in truth.attributes.items()):
        return False
    box = truth.box_at(min(max(alert.frame, first), last))
    if box is None:
        return True
    if alert.bbox is None:
        return False
    return _same_object(alert.bbox, box)


def _same_object(
    found: tuple[float, float, float, float], expected: tuple[float, float, float, float]
) -> bool:
    """The alert's anchor inside the expected box grown by a quarter, or IoU ≥ 0.3."""
    x1, y1, x2, y2 = expected
    mx, my = (x2 - x1) * 0.25, (y2 - y1) * 0.25
    ax, ay = (found[0] + found[2]) / 2, found[3]
    if x1 - mx <= ax <= x2 + mx and y1 - my <= ay <= y2 + my:
        return True
    ix = max(0.0, min(found[2], x2) - max(found[0], x1))
    iy = max(0.0, min(found[3], y2) - max(found[1], y1))
    inter = ix * iy
    union = (found[2] - found[0]) * (found[3] - found[1]) + (x2 - x1) * (y2 - y1) - inter
    return union > 0 and inter / union >= 0.3


def judge(alerts: Sequence[Alert], truth: Truth) -> dict[str, Any]:
    """Per rule: alerts, true, duplicates, false (with where), precision, recall."""
    report: dict[str, Any] = {}
    rules = sorted(set(truth.rules) | {a.rule for a in alerts})
    for rule in rules:
        events = truth.rules.get(rule)
        mine = [a for a in alerts if a.rule == rule]
        if events is None:
            report[rule] = {"alerts": len(mine), "judged": False}
            continue
        report[rule] = _judge_rule(mine, events)
    return report


def _judge_rule(alerts: Sequence[Alert], events: Sequence[TruthEvent]) -> dict[str, Any]:
    alerted: set[str] = set()
    true = duplicates = 0
    false: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    for alert in alerts:
        hits = [event for event in events if matches(alert, event)]
        fresh = [event for event in hits if event.id not in alerted]
        if fresh:
            alerted.add(fresh[0].id)
            true += 1
            values += _value_errors(alert, fresh[0])
        elif hits:
            duplicates += 1
        else:
            false.append(_describe(alert))
    required = [event.id for event in events if event.required]
    found = [event_id for event_id in required if event_id in alerted]
    count = len(alerts)
    return {
        "alerts": count,
        "true": true,
        "duplicates": duplicates,
        "false": len(false),
        "precision": None if count == 0 else round((true + duplicates) / count, 3),
        "truth_events": len(events),
        "required": len(required),
        "found": len(found),
        "recall": None if not required else round(len(found) / len(required), 3),
        "missed": [event_id for event_id in required if event_id not in alerted],
        "false_alerts": false[:50],
        "values": values,
        "max_value_error": _max_errors(values),
    }


def _value_errors(alert: Alert, event: TruthEvent) -> list[dict[str, Any]]:
    """What a true alert told the operator against the truth's value (e.g. its speed)."""
    return [
        {
            "event": event.id,
            "measurement": key,
            "alerted": alert.measurements[key],
            "truth": value,
            "error": round(float(alert.measurements[key]) - value, 2),
        }
        for key, value in event.measurements.items()
        if key in alert.measurements
    ]


def _max_errors(values: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Largest absolute error of each measurement over the true alerts."""
    worst: dict[str, float] = {}
    for value in values:
        key = value["measurement"]
        worst[key] = max(worst.get(key, 0.0), abs(value["error"]))
    return worst


def _describe(alert: Alert) -> dict[str, Any]:
    return {
        "frame": alert.frame,
        "loop": alert.loop,
        "track_id": alert.track_id,
        "bbox": None if alert.bbox is None else [round(v, 1) for v in alert.bbox],
        "zone": alert.zone,
        "measurements": alert.measurements,
        "attributes": {k: v for k, v in alert.attributes.items() if k != "incident_id"},
    }


# ---- the demo ---------------------------------------------------------------------------------


def demo_report(alerts: Sequence[Alert], truth: Truth, seconds: float) -> dict[str, Any]:
    """False alerts per camera-hour of the looped demo, per rule and in all."""
    judged = judge(alerts, truth)
    hours = seconds / 3600.0
    per_rule = {
        rule: {
            "alerts": result["alerts"],
            "false": result.get("false"),
            "false_per_camera_hour": None
            if "false" not in result
            else round(result["false"] / hours, 1),
            "alerts_per_camera_hour": round(result["alerts"] / hours, 1),
        }
        for rule, result in judged.items()
    }
    false = sum(r["false"] or 0 for r in per_rule.values())
    return {
        "seconds": round(seconds, 1),
        "alerts": len(alerts),
        "false": false,
        "false_per_camera_hour": round(false / hours, 1),
        "per_rule": per_rule,
        "false_alerts": {rule: r.get("false_alerts", [])[:10] for rule, r in judged.items()},
    }


# ---- the demo in real time --------------------------------------------------------------------


class _MediaClock:
    """Wraps a frame source; remembers the media time of each frame by its wall time.

    An event's ``time`` is its frame's wall time (``edge run`` and the demo stamp live
    capture time), so the media time, hence the frame of the looped clip it is about, is
    found again here.
    """

    def __init__(self, source: Any) -> None:
        self.source = source
        self.media: dict[float, float] = {}
        self.frames = 0

    def start(self) -> None:
        self.source.start()

    def get(self, timeout: float | None = None) -> Any:
        frame = self.source.get(timeout)
        if frame is not None:
            self.media[round(frame.wall_time, 6)] = frame.timestamp
            self.frames += 1
        return frame

    @property
    def finished(self) -> bool:
        return bool(self.source.finished)

    def stop(self, timeout: float = 5.0) -> None:
        self.source.stop(timeout)


class _Collector:
    """An event sink that keeps the events."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def write_many(self, items: Sequence[Any]) -> None:
        with self._lock:
            self.events.extend(item.event for item in items)

    def close(self) -> None:
        """Nothing to flush."""


def realtime_demo(
    scene: SceneConfig, video: Path, seconds: float, clip_frames: int, fps: float = 30.0
) -> tuple[list[Alert], dict[str, Any]]:
    """Run the demo's edge pipeline (looping real-time capture) for ``seconds``.

    Returns:
        The alerts (frames of the clip found from each event's media time) and run figures.
    """
    from edge.ingest import CaptureWorker, SourceConfig
    from edge.pipeline.runner import Pipeline

    camera = scene.camera.id
    source = _MediaClock(
        CaptureWorker(SourceConfig(uri=str(video), camera_id=camera, realtime=True, loop=True))
    )
    sink = _Collector()
    pipeline = Pipeline([scene], {camera: Detector(scene.detector)}, {camera: source}, sink)
    runner = threading.Thread(target=pipeline.run, name="rule-precision-demo")
    started = time.monotonic()
    runner.start()
    runner.join(seconds)
    pipeline.stop()
    runner.join(60)
    elapsed = time.monotonic() - started
    clock = np.array(sorted(source.media))
    events = []
    for event in sink.events:
        wall = event.time.timestamp()
        nearest = float(clock[np.argmin(np.abs(clock - wall))]) if len(clock) else wall
        loop, frame = divmod(round(source.media.get(nearest, 0.0) * fps), clip_frames)
        events.append((int(loop), int(frame), event))
    figures = {
        "wall_seconds": round(elapsed, 1),
        "frames_analysed": source.frames,
        "analysed_fps": round(source.frames / max(elapsed, 1e-9), 1),
        "media_seconds": round(max(source.media.values(), default=0.0), 1),
    }
    return alerts_of(events), figures


# ---- command line -----------------------------------------------------------------------------


def _overrides(pairs: Sequence[str], option: str = "--detector") -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"{option} {pair!r}: expected KEY=VALUE")
        result[key.strip()] = yaml.safe_load(value)
    return result


def _rule_settings(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``RULE.KEY=VALUE`` pairs (parsed as :func:`_overrides` does) grouped by rule."""
    result: dict[str, dict[str, Any]] = {}
    for key, value in _overrides(pairs, "--rule").items():
        rule, dot, setting = key.partition(".")
        if not (dot and rule and setting):
            raise SystemExit(f"--rule {key!r}: expected RULE.KEY=VALUE")
        result.setdefault(rule, {})[setting] = value
    return result


def run_clip(
    clip: Clip,
    overrides: dict[str, Any],
    cache: Path | None,
    rule_settings: dict[str, dict[str, Any]] | None = None,
    max_fps: float | None = None,
) -> tuple[SceneConfig, tuple[str, ...], list[Detections], Path, Truth]:
    """Load a clip's scene and truth and detect (or read cached) its frames.

    ``rule_settings`` (rule → settings) are merged over the scene's rules and the clip's
    added rules (``--rule no_helmet.classifier=vn-head-classifier``). ``max_fps`` replaces
    the scene's ``source.max_fps`` (0: every frame); every frame is detected either way.
    """
    scene = at_rate(load_scene(clip.config), max_fps)
    config = detector_config(scene, overrides)
    raw: dict[str, dict[str, Any]] = {rule: {} for rule in clip.add_rules}
    raw.update({rule: p.model_dump(exclude_unset=True) for rule, p in scene.rules.items()})
    for rule, settings in (rule_settings or {}).items():
        raw[rule] = {**raw.get(rule, {}), **settings}
    rules = TypeAdapter(RuleSettings).validate_python(raw)
    scene = scene.model_copy(update={"detector": config, "rules": rules})
    video = shared_path(*clip.video)
    names, detections = detect_video(config, video, cache)
    return scene, names, detections, video, load_truth(clip.truth)


def main(argv: list[str] | None = None) -> int:
    """Run both clips (and the looped demo), judge the alerts, write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--label", default="run", help="names the result file")
    parser.add_argument("--clips", default="overpass,intersection", help="comma-separated")
    parser.add_argument(
        "--detector", action="append", default=[], help="KEY=VALUE over the scene's detector"
    )
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        help="RULE.KEY=VALUE over a rule's settings (e.g. no_helmet.classifier=vn-head-classifier)",
    )
    parser.add_argument("--cache", type=Path, default=Path("var/cache/rule_precision"))
    parser.add_argument(
        "--max-fps",
        type=float,
        default=None,
        help="process the clips at most at this rate (default: each scene's source.max_fps; "
        "0: every frame)",
    )
    parser.add_argument("--demo-loops", type=int, default=30, help="0: no demo")
    parser.add_argument(
        "--demo-stride", type=int, default=2, help="of the frames processed, keep every Nth"
    )
    parser.add_argument(
        "--realtime-s", type=float, default=0.0, help="also run the demo's real-time pipeline"
    )
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = _overrides(args.detector)
    rule_settings = _rule_settings(args.rule)
    report: dict[str, Any] = {
        "benchmark": "rule_precision",
        "label": args.label,
        "commit": _commit(),
        "detector_overrides": overrides,
        "rule_settings": rule_settings,
        "machine": machine_info(),
        "load_average_at_start": os.getloadavg(),
        "clips": {},
    }
    for name in args.clips.split(","):
        clip = CLIPS[name]
        scene, names, detections, video, truth = run_clip(
            clip, overrides, args.cache, rule_settings, args.max_fps
        )
        alerts = replay(scene, names, detections, video)
        report["clips"][name] = {
            "frames": len(detections),
            "max_fps": scene.source.max_fps,
            "detector": scene.detector.model_dump(mode="json"),
            "rules": judge(alerts, truth),
            "probes": {
                probe.name: _judge_rule(
                    replay(probe_scene(scene, probe), names, detections, video), probe.events
                )
                for probe in truth.probes
            },
        }
        if name == "overpass" and args.demo_loops > 0:
            looped = replay(
                scene, names, detections, video, loops=args.demo_loops, stride=args.demo_stride
            )
            seconds = args.demo_loops * len(detections) / 30.0
            report["demo"] = {
                "loops": args.demo_loops,
                "stride": args.demo_stride,
                **demo_report(looped, truth, seconds),
            }
        if name == "overpass" and args.realtime_s > 0:
            live, figures = realtime_demo(scene, video, args.realtime_s, len(detections))
            report["demo_realtime"] = {
                **figures,
                **demo_report(live, truth, figures["media_seconds"]),
            }
    report["load_average_at_end"] = os.getloadavg()
    out = args.out or RESULTS / f"rule_precision_{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(summary(report))
    print(f"wrote {out}")
    return 0


def summary(report: dict[str, Any]) -> str:
    """A text table of the report: per clip and rule, then the demo."""
    lines = [f"{'clip':13} {'rule':26} alerts true dup false precision recall"]
    for clip, result in report["clips"].items():
        for rule, r in result["rules"].items():
            if not r.get("judged", True):
                lines.append(f"{clip:13} {rule:26} {r['alerts']:6} (no truth)")
                continue
            lines.append(
                f"{clip:13} {rule:26} {r['alerts']:6} {r['true']:4} {r['duplicates']:3} "
                f"{r['false']:5} {_fmt(r['precision']):>9} {_fmt(r['recall']):>6} "
                f"({r['found']}/{r['required']})"
            )
        for probe, r in result.get("probes", {}).items():
            lines.append(
                f"{clip:13} probe {probe:20} {r['alerts']:6} {r['true']:4} {r['duplicates']:3} "
                f"{r['false']:5} {_fmt(r['precision']):>9} {_fmt(r['recall']):>6} "
                f"({r['found']}/{r['required']})"
            )
    for key in ("demo", "demo_realtime"):
        demo = report.get(key)
        if not demo:
            continue
        how = (
            f"{demo['loops']} loops, stride {demo['stride']}"
            if key == "demo"
            else f"real time, {demo['media_seconds']} s of video at {demo['analysed_fps']} fps"
        )
        lines.append(
            f"{key}: {how}: {demo['alerts']} alerts, {demo['false']} false = "
            f"{demo['false_per_camera_hour']} false alerts per camera-hour"
        )
        for rule, r in demo["per_rule"].items():
            per_hour = r["false_per_camera_hour"]
            lines.append(f"  {rule:26} {r['alerts']:5} alerts, false per camera-hour {per_hour}")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
