"""Red-light running: a vehicle crosses a signalled stop line while its signal is red."""

from __future__ import annotations

from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, Rule, RuleParams, RuleSetup, make_event
from edge.rules.crossing import SideTracker
from edge.rules.signals import SignalBoard, SignalState
from edge.scene import StopLine
from traffic_monitor.contract import Event, EventType, Severity

SIGNAL_BOARD = "signal_board"
"""Key of the camera's :class:`SignalBoard` in ``RuleSetup.services``."""


class RedLightParams(RuleParams):
    """Parameters of the red-light rule."""

    stop_lines: list[str] | None = Field(
        default=None, description="Stop-line names; empty: every configured stop line."
    )
    dead_band_fraction: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description=(
            "Dead band as a fraction of the box height where that is larger than "
            "dead_band_px: the boxes of near objects wobble by several pixels."
        ),
    )
    dead_band_px: float = Field(
        default=4.0, ge=0, description="Jitter band around the stop line, pixels."
    )
    classes: list[str] = Field(
        default_factory=lambda: ["car", "bus", "truck", "motorcycle", "bicycle"],
        description="Classes checked (voted track class).",
    )
    amber_is_violation: bool = Field(
        default=False, description="Also flag crossings on amber (where local law says so)."
    )


class RedLightRule(Rule):
    """``red_light`` when a tracked vehicle crosses a stop line positively on red.

    The signal state comes from the camera's :class:`SignalBoard` (colour-classified region,
    external MQTT state or fixed plan). An ``unknown`` state never raises a violation.
    """

    name = "red_light"
    Params = RedLightParams

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Set up a side tracker per stop line and find (or make) the signal board."""
        super().__init__(params, setup)
        assert isinstance(params, RedLightParams)
        self.p = params
        board = setup.services.get(SIGNAL_BOARD)
        self.board: SignalBoard = board if board is not None else SignalBoard(setup.scene.signals)
        setup.services[SIGNAL_BOARD] = self.board
        lines = setup.scene.stop_lines
        if params.stop_lines is not None:
            lines = [line for line in lines if line.name in params.stop_lines]
        self.lines: list[tuple[StopLine, SideTracker]] = [
            (
                line,
                SideTracker(
                    line.start,
                    line.end,
                    line.positive,
                    dead_band_px=params.dead_band_px,
                    dead_band_fraction=params.dead_band_fraction,
                ),
            )
            for line in lines
        ]
        self.crossings: dict[str, int] = {}
        """Crossings seen per signal state (for checks and metrics)."""

    def process(self, frame: FrameContext) -> list[Event]:
        """Check each vehicle's crossing of each stop line against its signal."""
        self.board.observe(frame.image)
        tracked = frame.tracked(self.p.classes)
        anchors = tracked.bottom_center
        events: list[Event] = []
        for line, sides in self.lines:
            for row in range(len(tracked)):
                anchor = (float(anchors[row, 0]), float(anchors[row, 1]))
                track_id = int(tracked.tracker_id[row])
                if not sides.knows(track_id):
                    first = frame.tracks[track_id].history[0]
                    sides.update(track_id, (first.x, first.y))
                height = float(tracked.xyxy[row, 3] - tracked.xyxy[row, 1])
                if sides.update(track_id, anchor, height) != "in":
                    continue
                state = self.board.state(line.signal, frame.timestamp)
                self.crossings[state.value] = self.crossings.get(state.value, 0) + 1
                if state == SignalState.RED or (
                    state == SignalState.AMBER and self.p.amber_is_violation
                ):
                    events.append(self._event(frame, tracked, row, line, state))
            sides.prune(set(frame.tracks))
        return events

    def _event(
        self, frame: FrameContext, tracked: Detections, row: int, line: StopLine, state: SignalState
    ) -> Event:
        return make_event(
            frame,
            self.name,
            EventType.RED_LIGHT,
            severity=Severity.HIGH,
            row=row,
            detections=tracked,
            zone=line.name,
            attributes={"stop_line": line.name, "signal": line.signal, "signal_state": state.value},
        )

    def state_size(self) -> int:
        """Per-track side entries held."""
        return sum(len(sides) for _, sides in self.lines)
