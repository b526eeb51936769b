"""Handlers of ``traffic-monitor edge run`` and ``edge check-config``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.detector import DetectorConfig
from edge.evidence import EvidenceConfig
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.runner import BatchDetector, Pipeline, RunStats
from edge.pipeline.sink import EventSink, JsonLinesSink
from edge.pipeline.supervision import SupervisionConfig
from edge.rules import ExternalSignalStates, RuleSetup, build_rules
from edge.scene import SceneConfig, format_validation_error, load_scene
from edge.scene.render import check_frame_size, out_of_frame, read_frame, render_scene
from edge.scene.transform import HomographyTransform
from edge.transport.config import MqttConfig
from edge.transport.identity import NodeIdentity, check_camera_sites
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import shared_path

if TYPE_CHECKING:
    from edge.ingest import SourceConfig

logger = logging.getLogger(__name__)

COCO_ROAD_NAMES = ("person", "bicycle", "car", "motorcycle")
EXIT_CAMERAS_FAILED = 1
"""``edge run`` exit status when it ended (not stopped) with cameras given up: the service
manager (``Restart=on-failure``) then restarts the process."""


class EvidenceSection(EvidenceConfig):
    """Evidence images of alerts: on or off, sizes, JPEG quality, an optional local copy."""

    enabled: bool | None = Field(
        default=None,
        description="Encode evidence images for alerts. Empty: on when they can go somewhere "
        "(transport mqtt, which carries them with their events, or a directory).",
    )


class TransportSection(BaseModel):
    """Where ``edge run`` sends its events: a JSON-lines file or MQTT (durable outbox)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["jsonl", "mqtt"] = Field(
        default="jsonl",
        description="jsonl: append to the 'events' file; mqtt: publish through the outbox.",
    )
    mqtt: MqttConfig | None = Field(
        default=None, description="Broker, node identity, TLS and outbox, for type 'mqtt'."
    )

    @model_validator(mode="after")
    def _mqtt_has_settings(self) -> TransportSection:
        if self.type == "mqtt" and self.mqtt is None:
            raise ValueError("type 'mqtt' needs an 'mqtt' section (site_id, node_id, host, …)")
        return self


class RunConfig(BaseModel):
    """An ``edge run`` file: which cameras, where events and evidence go, metrics port."""

    model_config = ConfigDict(extra="forbid")

    cameras: list[Path] = Field(min_length=1, description="Scene config files, one per camera.")
    events: Path = Field(
        default=Path("events.jsonl"), description="JSON-lines event file (transport 'jsonl')."
    )
    transport: TransportSection = Field(
        default_factory=TransportSection, description="Event sink: JSON lines or MQTT."
    )
    evidence: EvidenceSection = Field(
        default_factory=EvidenceSection,
        description="Evidence images of alerts (blurred as each scene's privacy_blur says).",
    )
    evidence_dir: Path | None = Field(
        default=None,
        description="Older spelling of evidence.directory: also write evidence JPEGs here.",
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Prometheus /metrics port; empty: off."
    )
    metrics_address: str = Field(default="127.0.0.1", description="Address metrics bind to.")
    supervision: SupervisionConfig = Field(
        default_factory=SupervisionConfig,
        description="Restarts of failed camera parts, when to give up, the detector watchdog.",
    )
    analysis_thread: bool = Field(
        default=True,
        description="Track and run the rules of one round of frames in a thread of their own "
        "while the next round is detected. On a GPU, or a CPU with cores to spare, the two "
        "overlap; on a 2-core CPU-only box they contend for the same cores and false (take "
        "turns) sustains as many cameras (benchmarks/results/analysis_overlap_cpu*.json).",
    )


def resolve_evidence(config: RunConfig) -> EvidenceConfig | None:
    """The evidence settings the run uses, or None when it encodes no images.

    Raises:
        UserFacingError: Evidence asked for where no image could go (JSON lines keep none).
    """
    section = config.evidence
    directory = section.directory or config.evidence_dir
    carried = config.transport.type == "mqtt"
    enabled = section.enabled if section.enabled is not None else carried or directory is not None
    if not enabled:
        return None
    if not carried and directory is None:
        raise UserFacingError(
            "evidence.enabled: a JSON-lines event file keeps no images; set evidence.directory "
            "or use transport mqtt"
        )
    return EvidenceConfig(
        **section.model_dump(exclude={"enabled", "directory"}), directory=directory
    )


def capture_config(scene: SceneConfig, base: Path, **overrides: Any) -> SourceConfig:
    """The capture settings of a scene's ``source`` section (its file resolved).

    Args:
        scene: The camera.
        base: Folder a relative file is looked up in first.
        **overrides: Settings that replace the scene's (e.g. ``realtime``, ``loop``).
    """
    from edge.ingest import SourceConfig

    settings = {**scene.source.capture_settings(), **overrides}
    return SourceConfig(
        uri=resolve_uri(scene.source.uri, base), camera_id=scene.camera.id, **settings
    )


def resolve_uri(uri: str, base: Path) -> str:
    """A relative file path is looked up beside the config, then in the shared data folder."""
    if "://" in uri or uri.isdigit() or Path(uri).is_absolute():
        return uri
    for candidate in (base / uri, shared_path(*Path(uri).parts)):
        if candidate.exists():
            return str(candidate)
    raise UserFacingError(f"source.uri {uri!r}: no such file beside {base} or in the shared data")


def load_run_config(path: Path) -> tuple[RunConfig, list[SceneConfig], Path]:
    """Read an ``edge run`` file, or a single scene file (one camera, defaults).

    Returns:
        The run config, the scenes, and the folder relative paths are resolved against.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserFacingError(f"cannot read {path}: {exc.strerror}") from exc
    base = path.parent
    if isinstance(raw, dict) and "camera" in raw:
        return RunConfig(cameras=[path]), [load_scene(path)], base
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise UserFacingError(format_validation_error(exc, str(path))) from exc
    scenes = [load_scene(p if p.is_absolute() else base / p) for p in config.cameras]
    ids = [scene.camera.id for scene in scenes]
    if len(set(ids)) != len(ids):
        raise UserFacingError(f"{path}: two cameras share an id ({', '.join(ids)})")
    mqtt = config.transport.mqtt
    if mqtt is not None:
        identity = NodeIdentity(mqtt.site_id, mqtt.node_id)
        check_camera_sites(identity, [(s.camera.id, s.camera.site) for s in scenes], str(path))
    return config, scenes, base


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


def select_transport(config: RunConfig, choice: str | None, origin: str) -> None:
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
    config: RunConfig,
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
    config, scenes, base = load_run_config(Path(args.config))
    select_transport(config, args.transport, args.config)
    evidence = resolve_evidence(config)
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
            node_id=config.transport.mqtt.node_id if config.transport.mqtt else "default",
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


def check_config_command(args: argparse.Namespace) -> int:
    """``edge check-config FILE --frame F``: validate everything and draw the geometry."""
    path = Path(args.file)
    scene = load_scene(path)
    transform = HomographyTransform(scene.calibration) if scene.calibration else None
    build_rules(RuleSetup(scene, COCO_ROAD_NAMES, transform))
    frame_source = (
        Path(args.frame) if args.frame else Path(resolve_uri(scene.source.uri, path.parent))
    )
    frame = read_frame(frame_source, args.frame_index)
    check_frame_size(scene, frame)
    outside = out_of_frame(scene, frame)
    if outside:
        print(f"warning: points outside the frame in {', '.join(outside)}")  # noqa: T201
    output = Path(args.output) if args.output else Path.cwd() / f"{path.stem}.check.png"
    import cv2

    if not cv2.imwrite(str(output), render_scene(scene, frame)):
        raise UserFacingError(f"cannot write {output}")
    print(  # noqa: T201
        f"{path}: valid ({'ROI, ' if scene.roi else ''}{len(scene.zones)} zones, "
        f"{len(scene.lines)} lines, "
        f"{len(scene.lanes)} lanes, {len(scene.stop_lines)} stop lines, "
        f"rules: {', '.join(scene.rules) or 'none'}); drawing: {output}"
    )
    return 0


def add_edge_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``run`` and ``check-config`` under ``edge``."""
    run = subparsers.add_parser("run", help="run capture → detect → track → rules → events")
    run.add_argument("config", help="edge run YAML (cameras: [...]) or a single scene YAML")
    run.add_argument("--events", help="event JSON-lines file (overrides the config)")
    run.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    run.add_argument(
        "--transport",
        choices=["jsonl", "mqtt"],
        help="event sink (overrides transport.type; mqtt needs the config's transport.mqtt)",
    )
    run.set_defaults(handler=run_command)
    check = subparsers.add_parser("check-config", help="validate a scene and draw it on a frame")
    check.add_argument("file", help="scene YAML")
    check.add_argument("--frame", help="image or video to draw on (default: the scene's source)")
    check.add_argument("--frame-index", type=int, default=0, help="frame of a video to use")
    check.add_argument(
        "--output",
        help="PNG to write (default: NAME.check.png in the working directory, never beside "
        "the config)",
    )
    check.set_defaults(handler=check_config_command)
