"""The rule interface: a rule is fed the tracked detections of one frame and returns events.

A new rule is a new module in this package with a :class:`Rule` subclass, added to the
explicit list in :mod:`edge.rules.registry`; the scene's ``rules:`` section names it, its
``Params`` validate the settings when the config is read, and the registry builds it. The
frame loop never changes. Extensions outside this package use :func:`register_rule`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from edge.detections import NO_TRACK, Detections, of_classes
from edge.enrich import Enricher
from edge.scene import SceneConfig
from edge.scene import rules as scene_rules
from edge.scene.geometry import as_points, in_polygon
from edge.tracking import Track
from traffic_monitor.contract import Event, EventPhase, EventType, Geometry, Severity

logger = logging.getLogger(__name__)

VEHICLE_CLASSES = ("car", "motorcycle", "bus", "truck", "bicycle")

RuleParams = scene_rules.RuleParams
"""Base of every rule's parameters (defined with the config's ``rules:`` section)."""


T = TypeVar("T")


def _scope(classes: Collection[str] | None) -> frozenset[str] | None:
    """A hashable key for a class filter (order and repeats do not matter)."""
    return None if classes is None else frozenset(classes)


class WorldTransform(Protocol):
    """Pixel → road-plane transform (the calibration package implements it)."""

    def image_to_world(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map ``(N, 2)`` pixel points to ``(N, 2)`` road-plane metres."""
        ...


@dataclass(frozen=True)
class FrameContext:
    """One frame as the rules see it (read-only).

    Attributes:
        camera_id: Camera id.
        site_id: Site id.
        index: Frame index in the source.
        timestamp: Seconds (media time for files, Unix time for live sources).
        time: UTC time of the frame (for events).
        detections: Every detection of the frame with ``tracker_id`` set by the tracker.
        tracks: Live tracks of the camera by id; per-track rule state is pruned to these.
        class_names: The detector's class names.
        image: The BGR frame (``None`` where a caller has no image, e.g. synthetic tests).
        node_id: The edge node (resolved once from the config; events carry it as is).
        ended: Ids of the tracks the tracker ended on this frame (no longer in ``tracks``):
            rules prune their per-track state with these instead of recomputing them.
    """

    camera_id: str
    site_id: str
    index: int
    timestamp: float
    time: datetime
    detections: Detections
    tracks: Mapping[int, Track]
    class_names: Sequence[str]
    image: np.ndarray[Any, Any] | None = None
    node_id: str = "default"
    ended: tuple[int, ...] = ()
    _memo: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def class_name(self, class_id: int) -> str:
        """Name of a class id (``class_<id>`` when unknown)."""
        if 0 <= class_id < len(self.class_names):
            return self.class_names[class_id]
        return f"class_{class_id}"

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, run once per frame for ``key`` and shared by every rule.

        For per-frame quantities several rules need (a track's speed, zone membership):
        tracks and detections do not change while the rules run.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    def tracked(self, classes: Collection[str] | None = None) -> Detections:
        """Rows that belong to a confirmed track, optionally of the given (voted) classes."""
        scope = _scope(classes)
        return self.cached(("tracked", scope), lambda: self.detections[self._rows(scope)])

    def anchors(self, classes: Collection[str] | None = None) -> npt.NDArray[np.float32]:
        """Anchors (bottom centres) of :meth:`tracked` ``(classes)``, row for row."""
        scope = _scope(classes)
        everyone = self.cached("anchors", lambda: self.detections.bottom_center)
        return self.cached(("anchors", scope), lambda: everyone[self._rows(scope)])

    def in_polygon(
        self, polygon: Sequence[Sequence[float]], classes: Collection[str] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Which rows of :meth:`tracked` ``(classes)`` have their anchor inside ``polygon``.

        Each polygon is tested once per frame against every tracked anchor; rules asking
        about the same zone (or a subset of classes) share the result.
        """
        scope = _scope(classes)
        everyone = self._per_object("in_polygon", polygon, lambda: self._all_in(polygon))
        return self._per_object(("in_polygon", scope), polygon, lambda: everyone[self._rows(scope)])

    def _per_object(self, tag: Hashable, obj: object, compute: Callable[[], T]) -> T:
        """:meth:`cached` keyed by an object's identity (cheap for unhashable config objects).

        The object is kept with the value, so its id cannot be reused within the frame.
        """
        key = (tag, id(obj))
        hit = self._memo.get(key)
        if hit is None or hit[0] is not obj:
            hit = self._memo[key] = (obj, compute())
        value: T = hit[1]
        return value

    def _all_in(self, polygon: Sequence[Sequence[float]]) -> npt.NDArray[np.bool_]:
        """Mask over every detection row: tracked and anchored inside ``polygon``."""
        rows = self._rows(None)
        mask = np.zeros(len(self.detections), dtype=bool)
        mask[rows] = in_polygon(as_points(polygon), as_points(self.anchors()))
        return mask

    def _rows(self, scope: frozenset[str] | None) -> npt.NDArray[np.bool_]:
        """Mask over detection rows: confirmed tracks, of the classes in ``scope`` if given."""
        return self.cached(("rows", scope), lambda: self._compute_rows(scope))

    def _compute_rows(self, scope: frozenset[str] | None) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = self.detections.tracker_id != NO_TRACK
        if scope is not None:
            mask &= of_classes(self.voted_class_ids(), self.class_names, scope)
        return mask

    def voted_class_ids(self, detections: Detections | None = None) -> npt.NDArray[np.int64]:
        """The tracker's voted class per row (the detection's own class where absent)."""
        dets = self.detections if detections is None else detections
        voted = dets.data.get("track_class_id")
        return dets.class_id if voted is None else np.asarray(voted, dtype=np.int64)

    def time_at(self, timestamp: float) -> datetime:
        """UTC time of another timestamp of the same clock."""
        return self.time + timedelta(seconds=timestamp - self.timestamp)


@dataclass
class RuleSetup:
    """What a rule may need at construction: the scene, class names, calibration, signals."""

    scene: SceneConfig
    class_names: Sequence[str]
    transform: WorldTransform | None = None
    services: dict[str, Any] = field(default_factory=dict)


class Rule(ABC):
    """A traffic rule. Subclasses set ``name`` and ``Params`` and implement :meth:`process`."""

    name: ClassVar[str]
    Params: ClassVar[type[RuleParams]] = RuleParams
    loads_model: ClassVar[bool] = False
    """True for a rule that loads a model when built: a config check leaves it unbuilt."""

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Keep the validated parameters and the setup."""
        self.params = params
        self.setup = setup

    @abstractmethod
    def process(self, frame: FrameContext) -> list[Event]:
        """Update state with one frame and return the events it causes."""

    def enrichers(self) -> Sequence[Enricher]:
        """Second-stage models this rule reads the columns of (run before any rule; none here)."""
        return ()

    def finish(self, frame: FrameContext) -> list[Event]:
        """End open events and flush partial aggregates (called at shutdown)."""
        del frame
        return []

    def state_size(self) -> int:
        """Entries of per-track or per-object state held (for memory tests and metrics)."""
        return 0


RuleT = TypeVar("RuleT", bound=type[Rule])
RULES: dict[str, type[Rule]] = {}


def register_rule(cls: RuleT) -> RuleT:
    """Class decorator for rules outside ``edge.rules`` (plug-ins, tests): usable by ``name``.

    The built-in rules are listed in :data:`edge.rules.registry.BUILT_IN_RULES` instead.
    """
    if cls.name in RULES and RULES[cls.name] is not cls:
        raise ValueError(f"two rules are named {cls.name!r}")
    RULES[cls.name] = cls
    return cls


def make_event(
    frame: FrameContext,
    rule: str,
    event_type: EventType,
    *,
    phase: EventPhase = EventPhase.INSTANT,
    severity: Severity = Severity.INFO,
    row: int | None = None,
    detections: Detections | None = None,
    zone: str | None = None,
    measurements: Mapping[str, object] | None = None,
    attributes: Mapping[str, str | int | float | bool] | None = None,
    time: datetime | None = None,
    world: tuple[float, float] | None = None,
) -> Event:
    """Build an event for a frame, optionally about one row of ``detections``.

    ``measurements`` and ``attributes`` are the fields of the type's payload models
    (``traffic_monitor.contract.payloads``); an unknown key raises ValueError.
    """
    track_id = object_class = confidence = bbox = point = None
    if row is not None:
        dets = frame.detections if detections is None else detections
        track_id = int(dets.tracker_id[row])
        object_class = frame.class_name(int(frame.voted_class_ids(dets)[row]))
        confidence = float(np.clip(dets.confidence[row], 0.0, 1.0))
        x1, y1, x2, y2 = (float(v) for v in dets.xyxy[row])
        bbox = (x1, y1, x2, y2)
        point = ((x1 + x2) / 2, y2)
    return Event.of(
        camera_id=frame.camera_id,
        site_id=frame.site_id,
        node_id=frame.node_id,
        time=time or frame.time,
        type=event_type,
        phase=phase,
        rule=rule,
        severity=severity,
        track_id=track_id,
        object_class=object_class,
        confidence=confidence,
        geometry=Geometry(bbox=bbox, point=point, zone=zone, world=world),
        measurements=dict(measurements or {}),
        attributes=dict(attributes or {}),
    )


def utc_from_timestamp(timestamp: float) -> datetime:
    """UTC datetime of a Unix timestamp."""
    return datetime.fromtimestamp(timestamp, UTC)


def prune(state: dict[Any, Any], alive: Callable[[Any], bool]) -> None:
    """Delete entries whose key is no longer alive (ended tracks)."""
    for key in [key for key in state if not alive(key)]:
        del state[key]
