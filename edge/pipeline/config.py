"""The edge box's configuration: one tree, read and checked whole before anything starts.

As Frigate does it::

    EdgeConfig
      node             who this box is (site, node id)
      transport        where events go: JSON lines, or MQTT (broker, TLS, durable outbox)
      evidence, metrics_*, supervision, analysis_thread
      camera_defaults  any camera section, merged into every camera once, at load
      cameras          [ {camera, source, detector, tracker, roi, geometry, calibration, rules} ]

A camera is written inline or as the path of a camera (scene) file. Every file written for
an earlier version still reads: a single scene file (one camera, defaults), and an
``edge run`` file whose ``cameras`` lists scene files. :func:`load_edge_config` validates
every camera, its rules' settings and its calibration file, so ``edge run`` and
``edge check-config`` refuse a mistake (the field named) before a model loads or the
publisher connects.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.evidence import EvidenceConfig
from edge.pipeline.supervision import SupervisionConfig
from edge.scene import SceneConfig, format_validation_error, scene_context
from edge.transport.config import MqttConfig
from edge.transport.identity import NodeIdentity, check_camera_sites
from traffic_monitor.contract.events import SEGMENT_PATTERN
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import shared_path
from traffic_monitor.yamlfile import read_yaml_mapping

if TYPE_CHECKING:
    from edge.ingest import SourceConfig

logger = logging.getLogger(__name__)

DEFAULTABLE_SECTIONS = frozenset(SceneConfig.model_fields) - {"camera"}
"""Camera sections ``camera_defaults`` may set (everything but the camera's identity)."""


def not_camera_sections(defaults: Mapping[str, Any]) -> str:
    """What is wrong with ``camera_defaults`` keys ('' when every key is a camera section)."""
    unknown = sorted(set(defaults) - DEFAULTABLE_SECTIONS)
    if not unknown:
        return ""
    return (
        f"not camera sections: {', '.join(unknown)} "
        f"(allowed: {', '.join(sorted(DEFAULTABLE_SECTIONS))})"
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeSection(_Strict):
    """Who this edge box is: the site it serves and its own id (topics, events, presence)."""

    site_id: str = Field(pattern=SEGMENT_PATTERN, description="Site this node publishes for.")
    node_id: str = Field(pattern=SEGMENT_PATTERN, description="This node's id.")


class EvidenceSection(EvidenceConfig):
    """Evidence images of alerts: on or off, sizes, JPEG quality, an optional local copy."""

    enabled: bool | None = Field(
        default=None,
        description="Encode evidence images for alerts. Empty: on when they can go somewhere "
        "(transport mqtt, which carries them with their events, or a directory).",
    )


class TransportSection(_Strict):
    """Where ``edge run`` sends its events: a JSON-lines file or MQTT (durable outbox)."""

    type: Literal["jsonl", "mqtt"] = Field(
        default="jsonl",
        description="jsonl: append to the 'events' file; mqtt: publish through the outbox.",
    )
    mqtt: MqttConfig | None = Field(
        default=None,
        description="Broker, TLS and outbox, for type 'mqtt'. Its site_id and node_id come "
        "from 'node' when left out here.",
    )

    @model_validator(mode="after")
    def _mqtt_has_settings(self) -> TransportSection:
        if self.type == "mqtt" and self.mqtt is None:
            raise ValueError("type 'mqtt' needs an 'mqtt' section (host, port, outbox_path, …)")
        return self


class EdgeConfig(_Strict):
    """The whole edge box: identity, transport, run settings and every camera (defaults merged)."""

    node: NodeSection | None = Field(
        default=None,
        description="Site and node id. Empty: transport.mqtt's, or site 'default' and node "
        "'default' for a JSON-lines run.",
    )
    camera_defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="Camera sections (source, detector, tracker, rules, privacy_blur, …) merged "
        "into every camera at load: a camera's own values win, mappings merge key by key "
        "(a default rule runs on every camera, before the camera's own rules), lists replace.",
    )
    cameras: list[SceneConfig] = Field(
        min_length=1,
        description="The cameras: each inline, or the path of a camera file (relative: to "
        "this file's folder).",
    )
    events: Path = Field(
        default=Path("events.jsonl"), description="JSON-lines event file (transport 'jsonl')."
    )
    transport: TransportSection = Field(
        default_factory=TransportSection, description="Event sink: JSON lines or MQTT."
    )
    evidence: EvidenceSection = Field(
        default_factory=EvidenceSection,
        description="Evidence images of alerts (blurred as each camera's privacy_blur says).",
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

    @field_validator("camera_defaults")
    @classmethod
    def _defaults_are_camera_sections(cls, defaults: dict[str, Any]) -> dict[str, Any]:
        problem = not_camera_sections(defaults)
        if problem:
            raise ValueError(problem)
        return defaults

    @model_validator(mode="after")
    def _one_identity(self) -> EdgeConfig:
        ids = [scene.camera.id for scene in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError(f"two cameras share an id ({', '.join(ids)})")
        mqtt, node = self.transport.mqtt, self.node
        if (
            mqtt is not None
            and node is not None
            and (mqtt.site_id, mqtt.node_id)
            != (
                node.site_id,
                node.node_id,
            )
        ):
            raise ValueError(
                f"node is {node.site_id}/{node.node_id} but transport.mqtt says "
                f"{mqtt.site_id}/{mqtt.node_id}: give the identity once, under 'node'"
            )
        return self

    @property
    def identity(self) -> NodeIdentity | None:
        """The node's identity, where the config gives one."""
        if self.node is not None:
            return NodeIdentity(self.node.site_id, self.node.node_id)
        if self.transport.mqtt is not None:
            return NodeIdentity(self.transport.mqtt.site_id, self.transport.mqtt.node_id)
        return None

    @property
    def node_id(self) -> str:
        """The node id events are stamped with (``default`` where none is configured)."""
        identity = self.identity
        return identity.node_id if identity is not None else "default"


RunConfig = EdgeConfig
"""Older name of :class:`EdgeConfig` (an ``edge run`` file)."""


def load_edge_config(path: Path) -> EdgeConfig:
    """Read an edge config, an older ``edge run`` file or a single camera (scene) file.

    Raises:
        UserFacingError: Unreadable YAML or any invalid field: the file and the field are
            named (``cameras.1.rules.speeding.tolerance_kmh``).
    """
    raw = read_yaml_mapping(path)
    if "camera" in raw:  # a single camera file: one camera, every other setting default
        raw = {"cameras": [path.name]}
    entries = _camera_entries(raw, str(path))
    defaults = raw.get("camera_defaults") or {}
    _check_defaults(defaults, str(path))
    scenes = [
        _validate_camera(*_camera_document(entry, path.parent, str(path), index), defaults)
        for index, entry in enumerate(entries)
    ]
    document = {**raw, "cameras": scenes}
    _fill_mqtt_identity(document)
    try:
        config = EdgeConfig.model_validate(document)
    except ValidationError as exc:
        raise UserFacingError(format_validation_error(exc, str(path))) from exc
    identity = config.identity
    if identity is not None:
        check_camera_sites(identity, [(s.camera.id, s.camera.site) for s in scenes], str(path))
    logger.debug("loaded %s: %d camera(s)", path, len(scenes))
    return config


def load_run_config(path: Path) -> tuple[EdgeConfig, list[SceneConfig], Path]:
    """:func:`load_edge_config`, as ``(config, cameras, folder relative paths resolve in)``."""
    config = load_edge_config(path)
    return config, config.cameras, path.parent


def _check_defaults(defaults: Any, origin: str) -> None:
    """Refuse ``camera_defaults`` that is not a mapping of camera sections (before any camera)."""
    if not isinstance(defaults, Mapping):
        raise UserFacingError(f"{origin}: camera_defaults: a mapping of camera sections is needed")
    problem = not_camera_sections(defaults)
    if problem:
        raise UserFacingError(f"{origin}: camera_defaults: {problem}")


def _camera_entries(raw: Mapping[str, Any], origin: str) -> list[Any]:
    entries = raw.get("cameras")
    if not isinstance(entries, list) or not entries:
        raise UserFacingError(
            f"{origin}: cameras: a list of at least one camera (inline, or a camera file) is needed"
        )
    return entries


def _camera_document(
    entry: Any, base: Path, origin: str, index: int
) -> tuple[dict[str, Any], str, Path]:
    """A camera's raw mapping, the name errors are reported under, its folder."""
    if isinstance(entry, dict):
        return entry, f"{origin}: cameras.{index}", base
    if isinstance(entry, str):
        file = Path(entry) if Path(entry).is_absolute() else base / entry
        return read_yaml_mapping(file), str(file), file.parent
    raise UserFacingError(
        f"{origin}: cameras.{index}: a camera mapping or a camera file path, "
        f"not {type(entry).__name__}"
    )


def _validate_camera(
    data: dict[str, Any], origin: str, folder: Path, defaults: Mapping[str, Any]
) -> SceneConfig:
    try:
        return SceneConfig.model_validate(
            merge_defaults(defaults, data), context=scene_context(folder)
        )
    except ValidationError as exc:
        raise UserFacingError(format_validation_error(exc, origin)) from exc


def merge_defaults(defaults: Mapping[str, Any], camera: Mapping[str, Any]) -> dict[str, Any]:
    """``camera`` over a copy of ``defaults``: mappings merge key by key, the camera wins."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in camera.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_defaults(below, value)
        else:
            merged[key] = value
    return merged


def _fill_mqtt_identity(document: dict[str, Any]) -> None:
    """Give ``transport.mqtt`` the node's site and node id where it leaves them out."""
    node, transport = document.get("node"), document.get("transport")
    if not isinstance(node, Mapping) or not isinstance(transport, Mapping):
        return
    mqtt = transport.get("mqtt")
    if isinstance(mqtt, Mapping):
        filled = {key: node[key] for key in ("site_id", "node_id") if key in node}
        document["transport"] = {**transport, "mqtt": filled | dict(mqtt)}


def resolve_evidence(config: EdgeConfig) -> EvidenceConfig | None:
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
    """The capture settings of a camera's ``source`` section (its file resolved).

    Args:
        scene: The camera.
        base: Folder a relative file is looked up in first.
        **overrides: Settings that replace the camera's (e.g. ``realtime``, ``loop``).
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
