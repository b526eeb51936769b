"""Handlers of ``traffic-monitor edge run`` and ``edge check-config``."""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.detector import DetectorConfig
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.runner import BatchDetector, Pipeline
from edge.pipeline.sink import EventSink, JsonLinesSink
from edge.rules import ExternalSignalStates, RuleSetup, build_rules
from edge.scene import SceneConfig, format_validation_error, load_scene
from edge.scene.render import check_frame_size, out_of_frame, read_frame, render_scene
from edge.scene.transform import HomographyTransform
from edge.transport.config import MqttConfig
from edge.transport.identity import NodeIdentity, check_camera_sites
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import shared_path

logger = logging.getLogger(__name__)

COCO_ROAD_NAMES = ("person", "bicycle", "car", "motorcycle")


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
    evidence_dir: Path | None = Field(
        default=None, description="Folder for evidence JPEGs; empty: no evidence images."
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Prometheus /metrics port; empty: off."
    )
    metrics_address: str = Field(default="127.0.0.1", description="Address metrics bind to.")
    analysis_thread: bool = Field(
        default=True,
        description="Track and run the rules of one round of frames in a thread of their own "
        "while the next round is detected. On a GPU, or a CPU with cores to spare, the two "
        "overlap; on a 2-core CPU-only box they contend for the same cores and false (take "
        "turns) sustains as many cameras (benchmarks/results/analysis_overlap_cpu*.json).",
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
) -> EventSink:
    """The configured event sink, started (MQTT connects in the background)."""
    if config.transport.type == "jsonl" or config.transport.mqtt is None:
        return JsonLinesSink(events_path)
    from edge.transport.publisher import MqttPublisher

    model = scenes[0].detector.model
    publisher = MqttPublisher(
        config.transport.mqtt,
        cameras=[scene.camera.id for scene in scenes],
        model=model.name if model is not None else None,
        signals=signals,
    )
    publisher.start()
    return publisher


def run_command(args: argparse.Namespace) -> int:
    """``edge run CONFIG``: run every configured camera until the files end or a signal."""
    from edge.ingest import CaptureWorker, SourceConfig

    config, scenes, base = load_run_config(Path(args.config))
    select_transport(config, args.transport, args.config)
    detectors = build_detectors(scenes)
    sources = {}
    for scene in scenes:
        source = SourceConfig(
            uri=resolve_uri(scene.source.uri, base),
            camera_id=scene.camera.id,
            realtime=scene.source.realtime,
            max_fps=scene.source.max_fps,
            loop=scene.source.loop,
        )
        sources[scene.camera.id] = CaptureWorker(source)
    metrics = PipelineMetrics()
    if config.metrics_port is not None:
        metrics.serve(config.metrics_port, config.metrics_address)
    events_path = Path(args.events) if args.events else config.events
    signals = ExternalSignalStates()
    sink = make_sink(config, scenes, signals, events_path)
    pipeline = Pipeline(
        scenes,
        detectors,
        sources,
        sink,
        metrics=metrics,
        evidence_dir=config.evidence_dir,
        external_signals=signals,
        analysis_thread=config.analysis_thread,
        node_id=config.transport.mqtt.node_id if config.transport.mqtt else "default",
    )
    _install_signal_handlers(pipeline)
    stats = pipeline.run(max_frames=args.max_frames)
    where = events_path if config.transport.type == "jsonl" else "MQTT"
    print(  # noqa: T201
        f"{stats.frames} frames, {stats.events} events in {stats.seconds:.1f} s "
        f"({stats.frames / max(stats.seconds, 1e-9):.1f} fps) -> {where}"
    )
    return 0


def _install_signal_handlers(pipeline: Pipeline) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        del frame
        logger.info("signal %s: stopping", signum)
        pipeline.stop()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


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
    output = Path(args.output) if args.output else path.with_suffix(".check.png")
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
    check.add_argument("--output", help="PNG to write (default: FILE.check.png)")
    check.set_defaults(handler=check_config_command)
