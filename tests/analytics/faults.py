"""Faults to inject into a pipeline (tests only): rules that raise or alert on cue.

Importing this module registers two rules a test scene can list under ``rules:``:
``test_fault`` raises from a given frame on, ``test_alert`` raises a high-severity alert
(with a box, so it gets evidence images) every N frames.
"""

from __future__ import annotations

from pydantic import Field

from edge.rules.base import FrameContext, Rule, RuleParams, make_event, register_rule
from traffic_monitor.contract import Event, EventType, Geometry, Severity


class FaultParams(RuleParams):
    """When the faulty rule raises."""

    from_frame: int = Field(default=0, ge=0, description="First frame it raises on.")
    times: int | None = Field(default=None, ge=1, description="How often; empty: every frame.")


@register_rule
class FaultRule(Rule):
    """Raises ``RuntimeError`` on every frame from ``from_frame`` (or ``times`` times)."""

    name = "test_fault"
    Params = FaultParams

    def __init__(self, params: RuleParams, setup: object) -> None:
        super().__init__(params, setup)  # type: ignore[arg-type]
        assert isinstance(params, FaultParams)
        self.p = params
        self.raised = 0

    def process(self, frame: FrameContext) -> list[Event]:
        more = self.p.times is None or self.raised < self.p.times
        if frame.index >= self.p.from_frame and more:
            self.raised += 1
            raise RuntimeError(f"injected rule fault on frame {frame.index}")
        return []


class AlertParams(RuleParams):
    """How often the alerting rule alerts."""

    every: int = Field(default=10, ge=1, description="Frames between alerts.")


@register_rule
class AlertRule(Rule):
    """A ``wrong_way`` alert (severity high, with a box) every ``every`` frames."""

    name = "test_alert"
    Params = AlertParams

    def process(self, frame: FrameContext) -> list[Event]:
        assert isinstance(self.params, AlertParams)
        if frame.index % self.params.every:
            return []
        event = make_event(frame, self.name, EventType.WRONG_WAY, severity=Severity.HIGH)
        return [event.model_copy(update={"geometry": Geometry(bbox=(20.0, 20.0, 60.0, 50.0))})]
