"""Traffic rules: each module is one rule fed the tracked detections of one frame.

Add a rule by adding a module with a :class:`Rule` subclass and listing the class in
:data:`edge.rules.registry.BUILT_IN_RULES`; name it under ``rules:`` in a camera config.
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
from edge.rules.registry import BUILT_IN_RULES, build_rules, discover_rules, registered_rules
from edge.rules.signals import (
    ColourSignal,
    ExternalSignalStates,
    ScheduleSignal,
    SignalBoard,
    SignalState,
    classify_signal_colour,
)

__all__ = [
    "BUILT_IN_RULES",
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
    "registered_rules",
]
