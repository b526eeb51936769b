"""Check the counting and wrong-way rules of ``edge/rules`` on rendered scenes with exact truth.

Every scene knows where each vehicle is in every frame, so it knows how many vehicles crossed
a counting line in each direction and which vehicles drive against their carriageway. The
real ``line_crossing`` and ``wrong_way`` rules are fed the tracked detections of the edge path
(the same frames the speed figures come from) and their output is compared with that truth.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from benchmarks.speed_rig.render import Scene, Truth
from benchmarks.speed_rig.scenes import AWAY_X, ONCOMING_X
from calibration.pinhole import PinholeMount
from edge.detections import Detections
from edge.rules.base import FrameContext, RuleSetup
from edge.rules.line_crossing import LineCrossingParams, LineCrossingRule
from edge.rules.wrong_way import WrongWayParams, WrongWayRule
from edge.scene import CountingLine, Lane, SceneConfig
from edge.scene.geometry import as_points, signed_distance
from edge.tracking import Track
from traffic_monitor.contract import Event, EventPhase, EventType

logger = logging.getLogger(__name__)

COUNT_LINE_Y = 25.0
"""Along-road position of the counting line (across both carriageways), metres."""

ROAD_NEAR_Y, ROAD_FAR_Y = 8.0, 80.0
"""Along-road extent of the lane polygons, metres."""

LINE_NAME = "rig_line"


def _pixels(mount: PinholeMount, world: list[tuple[float, float]]) -> list[tuple[float, float]]:
    points = mount.camera_model().world_to_image(np.asarray(world, dtype=np.float64))
    return [(round(float(x), 2), round(float(y), 2)) for x, y in points]


def rig_scene_config(mount: PinholeMount) -> SceneConfig:
    """A scene config for the rig camera: one counting line, two carriageways with directions."""
    line = _pixels(mount, [(ONCOMING_X[0] - 1.0, COUNT_LINE_Y), (AWAY_X[1] + 1.0, COUNT_LINE_Y)])
    lanes = []
    for name, (x0, x1), sign in (("oncoming", ONCOMING_X, -1.0), ("away", AWAY_X, 1.0)):
        corners = [(x0, ROAD_NEAR_Y), (x1, ROAD_NEAR_Y), (x1, ROAD_FAR_Y), (x0, ROAD_FAR_Y)]
        middle = (x0 + x1) / 2
        ends = [(middle, COUNT_LINE_Y - 5.0 * sign), (middle, COUNT_LINE_Y + 5.0 * sign)]
        direction = _pixels(mount, ends)
        lanes.append(
            Lane(name=name, polygon=_pixels(mount, corners), direction=(direction[0], direction[1]))
        )
    return SceneConfig.model_validate(
        {
            "camera": {"id": "rig", "site": "rig"},
            "source": {"uri": "rig"},
            "lines": [CountingLine(name=LINE_NAME, start=line[0], end=line[1], positive="left")],
            "lanes": lanes,
        }
    )


def away_direction(mount: PinholeMount) -> str:
    """The rule's direction name (``in``/``out``) for a vehicle going away from the camera."""
    config = rig_scene_config(mount).lines[0]
    far = _pixels(mount, [(0.0, COUNT_LINE_Y + 10.0)])
    distance = float(
        signed_distance(as_points(config.start)[0], as_points(config.end)[0], as_points(far))[0]
    )
    return "in" if distance > 0 else "out"


def true_crossings(truths: list[Truth]) -> dict[str, int]:
    """Crossings of the counting line by the true positions, per direction (away/towards)."""
    counts = {"away": 0, "towards": 0}
    for before, after in itertools.pairwise(truths):
        both = before.visible & after.visible
        y0, y1 = before.world[:, 1], after.world[:, 1]
        counts["away"] += int(np.sum(both & (y0 < COUNT_LINE_Y) & (y1 >= COUNT_LINE_Y)))
        counts["towards"] += int(np.sum(both & (y0 >= COUNT_LINE_Y) & (y1 < COUNT_LINE_Y)))
    return counts


def wrong_way_vehicles(scene: Scene) -> set[int]:
    """Vehicles that start in a carriageway and drive against its direction."""
    wrong = set()
    for index, vehicle in enumerate(scene.vehicles):
        trajectory = vehicle.trajectory
        in_away = AWAY_X[0] < trajectory.x0 < AWAY_X[1]
        if (trajectory.direction > 0) != in_away:
            wrong.add(index)
    return wrong


@dataclass
class RuleCheck:
    """The two rules running on one scene, and the events they emitted."""

    mount: PinholeMount
    class_names: tuple[str, ...]
    line_crossing: LineCrossingRule
    wrong_way: WrongWayRule
    events: list[Event] = field(default_factory=list)
    last: FrameContext | None = None

    @classmethod
    def for_mount(cls, mount: PinholeMount, class_names: tuple[str, ...]) -> RuleCheck:
        """Build the rules with their default parameters (counts every 60 s)."""
        setup = RuleSetup(scene=rig_scene_config(mount), class_names=class_names)
        return cls(
            mount,
            class_names,
            LineCrossingRule(LineCrossingParams(), setup),
            WrongWayRule(WrongWayParams(), setup),
        )

    def feed(
        self,
        index: int,
        timestamp: float,
        tracked: Detections,
        tracks: Mapping[int, Track],
        ended: tuple[int, ...] = (),
    ) -> None:
        """Run both rules on one frame's tracked detections (``ended``: tracks it ended)."""
        frame = FrameContext(
            camera_id="rig",
            site_id="rig",
            index=index,
            timestamp=timestamp,
            time=datetime.fromtimestamp(1.7e9 + timestamp, UTC),
            detections=tracked,
            tracks=tracks,
            class_names=self.class_names,
            ended=ended,
        )
        self.last = frame
        self.events.extend(self.line_crossing.process(frame))
        self.events.extend(self.wrong_way.process(frame))

    def finish(self) -> None:
        """Close open events and partial count buckets."""
        if self.last is not None:
            self.events.extend(self.line_crossing.finish(self.last))
            self.events.extend(self.wrong_way.finish(self.last))

    def counted(self) -> dict[str, int]:
        """Counted crossings per direction (away/towards), every class together."""
        away = away_direction(self.mount)
        totals = self.line_crossing.totals[LINE_NAME]
        result = {"away": 0, "towards": 0}
        for (_, direction), n in totals.items():
            result["away" if direction == away else "towards"] += n
        return result

    def wrong_way_tracks(self) -> set[int]:
        """Track ids the wrong-way rule raised an event about."""
        return {
            int(event.track_id)
            for event in self.events
            if event.type == EventType.WRONG_WAY
            and event.phase == EventPhase.START
            and event.track_id is not None
        }


def rule_summary(
    check: RuleCheck, truths: list[Truth], scene: Scene, owner: dict[int, int | None]
) -> dict[str, Any]:
    """Counting error and wrong-way detections of one scene against its truth.

    Args:
        check: The rules after the scene ran.
        truths: Per-frame truth of the scene.
        scene: The scene (its trajectories say which vehicles drive the wrong way).
        owner: Track id → the vehicle it followed (None: never matched a vehicle).
    """
    truth = true_crossings(truths)
    counted = check.counted()
    wrong = wrong_way_vehicles(scene)
    flagged = check.wrong_way_tracks()
    flagged_vehicles = {owner.get(t) for t in flagged}
    return {
        "true_crossings": truth,
        "counted": counted,
        "count_error": {k: counted[k] - truth[k] for k in truth},
        "wrong_way_true": sorted(wrong),
        "wrong_way_flagged_tracks": len(flagged),
        "wrong_way_detected": len(wrong & {v for v in flagged_vehicles if v is not None}),
        "wrong_way_false_alarms": sum(
            1 for t in flagged if owner.get(t) is None or owner.get(t) not in wrong
        ),
    }


def merge_rule_summaries(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over scenes: true and counted crossings, absolute count error, wrong-way hits."""
    true = {d: sum(s["true_crossings"][d] for s in summaries) for d in ("away", "towards")}
    counted = {d: sum(s["counted"][d] for s in summaries) for d in ("away", "towards")}
    return {
        "true_crossings": true,
        "counted": counted,
        "abs_count_error": sum(abs(v) for s in summaries for v in s["count_error"].values()),
        "wrong_way_true": sum(len(s["wrong_way_true"]) for s in summaries),
        "wrong_way_detected": sum(s["wrong_way_detected"] for s in summaries),
        "wrong_way_false_alarms": sum(s["wrong_way_false_alarms"] for s in summaries),
    }


__all__ = [
    "COUNT_LINE_Y",
    "RuleCheck",
    "merge_rule_summaries",
    "rig_scene_config",
    "rule_summary",
    "true_crossings",
    "wrong_way_vehicles",
]
