"""The rules a camera config may list, by name, and how the listed ones are built.

The built-in rules are one explicit list (:data:`BUILT_IN_RULES`): no directory scanning, and a
reader sees every rule in one place. An extension (a plug-in, a test's fault-injecting rule)
adds itself with :func:`edge.rules.base.register_rule`. The scene's ``rules:`` section is
validated against :func:`registered_rules` when the config is read
(:mod:`edge.scene.rules`), so :func:`build_rules` gets settings that are already valid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from edge.rules.base import RULES, Rule, RuleParams, RuleSetup
from edge.rules.camera_health import CameraHealthRule
from edge.rules.congestion import CongestionRule
from edge.rules.helmet import HelmetRule
from edge.rules.illegal_stop import IllegalStopRule
from edge.rules.line_crossing import LineCrossingRule
from edge.rules.pedestrian import PedestrianOnCarriagewayRule
from edge.rules.red_light import RedLightRule
from edge.rules.speeding import SpeedingRule
from edge.rules.stopped_vehicle import StoppedVehicleRule
from edge.rules.wrong_way import WrongWayRule
from edge.rules.zone_occupancy import ZoneOccupancyRule
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

BUILT_IN_RULES: tuple[type[Rule], ...] = (
    CameraHealthRule,
    CongestionRule,
    HelmetRule,
    IllegalStopRule,
    LineCrossingRule,
    PedestrianOnCarriagewayRule,
    RedLightRule,
    SpeedingRule,
    StoppedVehicleRule,
    WrongWayRule,
    ZoneOccupancyRule,
)
"""Every rule shipped with the box. Add a rule here (and its module) to make it configurable."""


def registered_rules() -> dict[str, type[Rule]]:
    """Every rule a config may name: the built-in ones, then registered extensions.

    Raises:
        ValueError: An extension took a built-in rule's name.
    """
    rules = {rule.name: rule for rule in BUILT_IN_RULES}
    for name, rule in RULES.items():
        if rules.setdefault(name, rule) is not rule:
            raise ValueError(f"rule {name!r} is built in; an extension cannot take its name")
    return rules


def discover_rules() -> dict[str, type[Rule]]:
    """Older name of :func:`registered_rules` (nothing is discovered any more)."""
    return registered_rules()


def build_rules(setup: RuleSetup) -> list[Rule]:
    """Build the rules listed under ``rules:`` in the scene config, in that order.

    Raises:
        UserFacingError: A rule refused the scene (e.g. ``speeding`` without a calibration);
            the rule is named as ``rules.<rule>``.
    """
    available = registered_rules()
    rules: list[Rule] = []
    for name, params in setup.scene.rules.items():
        rule = available[name]
        try:
            rules.append(rule(_settings(rule, params), setup))
        except ValueError as exc:
            raise UserFacingError(f"rules.{name}: {exc}") from exc
        logger.debug("rule %s ready", name)
    return rules


def _settings(rule: type[Rule], params: RuleParams | Mapping[str, object]) -> RuleParams:
    """The rule's own settings (a scene built with ``model_copy`` skips validation)."""
    if isinstance(params, rule.Params):
        return params
    raw = params.model_dump() if isinstance(params, RuleParams) else params
    return rule.Params.model_validate(raw)
