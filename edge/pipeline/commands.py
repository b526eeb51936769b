"""Handlers of ``traffic-monitor edge run`` and ``edge check-config``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from edge.detector import DetectorConfig
from edge.pipeline.config import (
    EdgeConfig,
    EvidenceSection,
    RunConfig,
    TransportSection,
    capture_config,
    load_edge_config,
    load_run_config,
    resolve_evidence,
    resolve_uri,
)
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.runner import BatchDetector, Pipeline, RunStats
from edge.pipeline.sink import EventSink, JsonLinesSink
from edge.rules import ExternalSignalStates, RuleSetup, build_rules
from edge.scene import SceneConfig
from edge.scene.render import check_frame_size, out_of_frame, read_frame, render_scene
from edge.scene.transform import world_transform
from traffic_monitor.errors import UserFacingError

__all__ = [
    "EXIT_CAMERAS_FAILED",
    "EdgeConfig",
    "EvidenceSection",
    "RunConfig",
    "TransportSection",
    "add_edge_commands",
    "build_detectors",
    "capture_config",
    "check_config_command",
    "check_rules",
    "exit_status",
    "load_edge_config",
    "load_run_config",
    "make_sink",
    "resolve_evidence",
    "resolve_uri",
    "run_command",
    "select_transport",
]

logger = logging.getLogger(__name__)

COCO_ROAD_NAMES = ("person", "bicycle", "car", "motorcycle")
EXIT_CAMERAS_FAILED = 1
"""``edge run`` exit status when it ended (not stopped) with cameras given up: the service
manager (``Restart=on-failure``) then restarts the process."""


def build_detectors(
    scenes: Sequence[SceneConfig],
    factory: Callable[[DetectorConfig], BatchDetector] | None = None,
) -> dict[str, BatchDetector]:
    """One detector per distinct detector config; cameras that share one are batched together.

    Args:
        scenes: The cameras.
        factory: Builds a detector from its config (default: ``edge.detector.Detector``).

    Returns:
        The detector of each camera id (the same object for cameras of one model group).
    """
    if factory is None:
        from edge.detector import Detector

        factory = Detector
    groups: dict[str, BatchDetector] = {}
    detectors: dict[str, BatchDetector] = {}
    for scene in scenes:
        key = scene.detector.model_dump_json()
        if key not in groups:
            groups[key] = factory(scene.detector)
            logger.info("detector group %d: %s", len(groups), scene.detector.model or "default")
        detectors[scene.camera.id] = groups[key]
    return detectors


def select_transport(config: EdgeConfig, choice: str | None, origin: str) -> None:
    """Apply the ``--transport`` flag to the run config (None: keep the config's choice).

    Raises:
        UserFacingError: ``mqtt`` asked for without a ``transport.mqtt`` section.
    """
    if choice is None:
        return
    if choice == "mqtt" and config.transport.mqtt is None:
        raise UserFacingError(
            f"{origin}: --transport mqtt needs a transport.mqtt section "
            "(site_id, node_id, host, port, outbox_path) in the run config"
        )
    config.transport = config.transport.model_copy(update={"type": choice})


def make_sink(
    config: EdgeConfig,
    scenes: Sequence[SceneConfig],
    signals: ExternalSignalStates,
    events_path: Path,
    metrics: PipelineMetrics | None = None,
) -> EventSink:
    """The configured event sink, started (MQTT connects in the background).

    Args:
        config: The run config (its ``transport`` section).
        scenes: The cameras (announced in the node's birth message).
        signals: Where ``signal_state`` commands go.
        events_path: The JSON-lines file (transport ``jsonl``).
        metrics: The pipeline's metrics, whose totals the node's stats report (MQTT).
    """
    if config.transport.type == "jsonl" or config.transport.mqtt is None:
        return JsonLinesSink(events_path)
    from edge.transport.publisher import MqttPublisher

    model = scenes[0].detector.model
    publisher = MqttPublisher(
        config.transport.mqtt,
        cameras=[scene.camera.id for scene in scenes],
        model=model.name if model is not None else None,
        signals=signals,
        counters=None if metrics is None else metrics.totals,
    )
    publisher.start()
    return publisher


def run_command(args: argparse.Namespace) -> int:
    """``edge run CONFIG``: run every configured camera until the files end or a signal.

    The stop handlers come first, so a SIGINT/SIGTERM during the slow start-up (model load,
    kernel warm-up) stops the run cleanly too: the start-up ends at its next step and the
    process exits 0.

    Returns:
        0 when the run ended normally or on a signal; :data:`EXIT_CAMERAS_FAILED` when it
        ended with cameras given up (all of them, or some before the files ended).
    """
    stop = threading.Event()
    restore = install_stop_handlers(stop)
    try:
        stats = _start_and_run(args, stop)
    finally:
        restore()
    if stats is None:
        logger.info("stopped during start-up")
        return 0
    return exit_status(stats)


def _start_and_run(args: argparse.Namespace, stop: threading.Event) -> RunStats | None:
    """The start-up as named steps, each skipped once a stop was asked for; then the run."""
    from edge.ingest import CaptureWorker

    logger.info("edge run: starting (SIGINT/SIGTERM stop it cleanly from now on)")
    config, scenes, base = load_run_config(Path(args.config))  # every field checked
    select_transport(config, args.transport, args.config)
    evidence = resolve_evidence(config)
    check_rules(scenes)  # each rule against its camera, before any model loads
    sources = {scene.camera.id: CaptureWorker(capture_config(scene, base)) for scene in scenes}
    detectors = build_detectors(scenes)  # slow: model load
    if stop.is_set():
        return None
    metrics = PipelineMetrics()
    if config.metrics_port is not None:
        metrics.serve(config.metrics_port, config.metrics_address)
    events_path = Path(args.events) if args.events else config.events
    signals = ExternalSignalStates()
    sink = make_sink(config, scenes, signals, events_path, metrics)
    try:
        pipeline = Pipeline(  # slow on a first start: kernel warm-up
            scenes,
            detectors,
            sources,
            sink,
            metrics=metrics,
            evidence=evidence,
            external_signals=signals,
            analysis_thread=config.analysis_thread,
            supervision=config.supervision,
            detector_factory=_detector_factory(),
            stop_event=stop,
            node_id=config.node_id,
        )
    except BaseException:
        sink.close()
        raise
    logger.info("edge run: running %d camera(s)", len(scenes))
    stats = pipeline.run(max_frames=args.max_frames)
    where = events_path if config.transport.type == "jsonl" else "MQTT"
    print(  # noqa: T201
        f"{stats.frames} frames, {stats.events} events in {stats.seconds:.1f} s "
        f"({stats.frames / max(stats.seconds, 1e-9):.1f} fps) -> {where}"
    )
    return stats


def _detector_factory() -> Callable[[DetectorConfig], BatchDetector]:
    from edge.detector import Detector

    return Detector


def exit_status(stats: RunStats) -> int:
    """0 for a run that ended normally or on a signal; non-zero when cameras were given up."""
    if stats.failed_cameras and not stats.stopped:
        logger.error(
            "edge run ended with %d camera(s) failed: %s",
            len(stats.failed_cameras),
            ", ".join(stats.failed_cameras),
        )
        return EXIT_CAMERAS_FAILED
    return 0


def install_stop_handlers(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop``; returns a function that puts the old ones back.

    Outside the main thread (where Python cannot install handlers) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, frame: FrameType | None) -> None:
        del frame
        if stop.is_set():
            logger.warning("signal %s: already stopping", signum)
            return
        logger.info("signal %s: stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def check_rules(scenes: Sequence[SceneConfig], *, load_models: bool = False) -> None:
    """Build every camera's rules once against its geometry and calibration, then drop them.

    A rule refuses a camera it cannot run on (``speeding`` without a calibration or a zone
    with a limit); this finds that before a detector loads or the publisher connects. Rules
    that load a model of their own are left out unless ``load_models``.

    Raises:
        UserFacingError: A rule refused its camera (camera and rule named).
    """
    for scene in scenes:
        setup = RuleSetup(scene, COCO_ROAD_NAMES, world_transform(scene.calibration))
        if not load_models:
            setup.scene = scene.model_copy(
                update={"rules": {n: p for n, p in scene.rules.items() if not _loads_model(n)}}
            )
        try:
            build_rules(setup)
        except UserFacingError as exc:
            raise UserFacingError(f"camera {scene.camera.id}: {exc}") from exc


def _loads_model(name: str) -> bool:
    from edge.rules import registered_rules

    return registered_rules()[name].loads_model


def check_config_command(args: argparse.Namespace) -> int:
    """``edge check-config FILE``: validate the whole config and draw each camera's geometry.

    Every field of every camera is checked (rule settings included) and every rule is built
    against its camera; no detector is loaded.
    """
    path = Path(args.file)
    _, scenes, base = load_run_config(path)
    check_rules(scenes, load_models=True)
    for scene in scenes:
        stem = path.stem if len(scenes) == 1 else f"{path.stem}.{scene.camera.id}"
        output = Path(args.output) if args.output else Path.cwd() / f"{stem}.check.png"
        if args.output and len(scenes) > 1:
            output = output.with_name(f"{output.stem}.{scene.camera.id}{output.suffix}")
        _draw_camera(args, scene, base, output)
    return 0


def _draw_camera(args: argparse.Namespace, scene: SceneConfig, base: Path, output: Path) -> None:
    """Draw a camera's geometry on a frame of its source (or ``--frame``) and report it."""
    frame_source = Path(args.frame) if args.frame else Path(resolve_uri(scene.source.uri, base))
    frame = read_frame(frame_source, args.frame_index)
    check_frame_size(scene, frame)
    outside = out_of_frame(scene, frame)
    if outside:
        print(f"warning: points outside the frame in {', '.join(outside)}")  # noqa: T201
    import cv2

    if not cv2.imwrite(str(output), render_scene(scene, frame)):
        raise UserFacingError(f"cannot write {output}")
    print(  # noqa: T201
        f"{scene.camera.id}: valid ({'ROI, ' if scene.roi else ''}"
        f"{len(scene.zones)} zones, {len(scene.lines)} lines, "
        f"{len(scene.lanes)} lanes, {len(scene.stop_lines)} stop lines, "
        f"rules: {', '.join(scene.rules) or 'none'}); drawing: {output}"
    )


def add_edge_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``run`` and ``check-config`` under ``edge``."""
    run = subparsers.add_parser("run", help="run capture → detect → track → rules → events")
    run.add_argument("config", help="edge config YAML (cameras: [...]) or a single camera YAML")
    run.add_argument("--events", help="event JSON-lines file (overrides the config)")
    run.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    run.add_argument(
        "--transport",
        choices=["jsonl", "mqtt"],
        help="event sink (overrides transport.type; mqtt needs the config's transport.mqtt)",
    )
    run.set_defaults(handler=run_command)
    check = subparsers.add_parser(
        "check-config", help="validate an edge config or a camera file and draw each camera"
    )
    check.add_argument("file", help="edge config YAML (cameras: [...]) or a camera YAML")
    check.add_argument("--frame", help="image or video to draw on (default: the scene's source)")
    check.add_argument("--frame-index", type=int, default=0, help="frame of a video to use")
    check.add_argument(
        "--output",
        help="PNG to write (default: NAME.check.png in the working directory, never beside "
        "the config; NAME.CAMERA.check.png for each camera of a config with several)",
    )
    check.set_defaults(handler=check_config_command)
