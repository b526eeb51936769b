"""Handlers of ``traffic-monitor edge run`` and ``edge check-config``."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from types import FrameType

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import JsonLinesSink
from edge.rules import RuleSetup, build_rules
from edge.scene import SceneConfig, format_validation_error, load_scene
from edge.scene.render import check_frame_size, out_of_frame, read_frame, render_scene
from edge.scene.transform import HomographyTransform
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import shared_path

logger = logging.getLogger(__name__)

COCO_ROAD_NAMES = ("person", "bicycle", "car", "motorcycle")


class RunConfig(BaseModel):
    """An ``edge run`` file: which cameras, where events and evidence go, metrics port."""

    model_config = ConfigDict(extra="forbid")

    cameras: list[Path] = Field(min_length=1, description="Scene config files, one per camera.")
    events: Path = Field(default=Path("events.jsonl"), description="JSON-lines event file.")
    evidence_dir: Path | None = Field(
        default=None, description="Folder for evidence JPEGs; empty: no evidence images."
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Prometheus /metrics port; empty: off."
    )
    metrics_address: str = Field(default="127.0.0.1", description="Address metrics bind to.")


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
    return config, scenes, base


def run_command(args: argparse.Namespace) -> int:
    """``edge run CONFIG``: run every configured camera until the files end or a signal."""
    from edge.detector import Detector
    from edge.ingest import CaptureWorker, SourceConfig

    config, scenes, base = load_run_config(Path(args.config))
    detector = Detector(scenes[0].detector)
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
    pipeline = Pipeline(
        scenes,
        detector,
        sources,
        JsonLinesSink(events_path),
        metrics=metrics,
        evidence_dir=config.evidence_dir,
    )
    _install_signal_handlers(pipeline)
    stats = pipeline.run(max_frames=args.max_frames)
    print(  # noqa: T201
        f"{stats.frames} frames, {stats.events} events in {stats.seconds:.1f} s "
        f"({stats.frames / max(stats.seconds, 1e-9):.1f} fps) -> {events_path}"
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
        f"{path}: valid ({len(scene.zones)} zones, {len(scene.lines)} lines, "
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
    run.set_defaults(handler=run_command)
    check = subparsers.add_parser("check-config", help="validate a scene and draw it on a frame")
    check.add_argument("file", help="scene YAML")
    check.add_argument("--frame", help="image or video to draw on (default: the scene's source)")
    check.add_argument("--frame-index", type=int, default=0, help="frame of a video to use")
    check.add_argument("--output", help="PNG to write (default: FILE.check.png)")
    check.set_defaults(handler=check_config_command)
