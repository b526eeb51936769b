"""Traffic rules: each module is one rule fed the tracked detections of one frame.

Add a rule by adding a module with a :class:`Rule` subclass decorated by
:func:`register_rule`; list it under ``rules:`` in a scene config.
"""

from edge.rules.base import (
    RULES,
    FrameContext,
    Rule,
    RuleParams,
    RuleSetup,
    WorldTransform,
    make_event,
    register_rule,
)
from edge.rules.registry import build_rules, discover_rules
from edge.rules.signals import (
    ColourSignal,
    ExternalSignalStates,
    ScheduleSignal,
    SignalBoard,
    SignalState,
    classify_signal_colour,
)

__all__ = [
    "RULES",
    "ColourSignal",
    "ExternalSignalStates",
    "FrameContext",
    "Rule",
    "RuleParams",
    "RuleSetup",
    "ScheduleSignal",
    "SignalBoard",
    "SignalState",
    "WorldTransform",
    "build_rules",
    "classify_signal_colour",
    "discover_rules",
    "make_event",
    "register_rule",
]
