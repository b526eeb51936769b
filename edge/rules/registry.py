"""Finds the rule modules of this package and builds the rules a scene config asks for."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Any

from pydantic import ValidationError

from edge.rules.base import RULES, Rule, RuleSetup
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

_SUPPORT_MODULES = {
    "base",
    "crossing",
    "incidents",
    "kinematics",
    "lifecycle",
    "motion",
    "registry",
    "riders",
    "signals",
    "zones",
}


def discover_rules() -> dict[str, type[Rule]]:
    """Import every module of ``edge.rules`` (each rule registers itself) and list the rules."""
    package = importlib.import_module("edge.rules")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _SUPPORT_MODULES:
            importlib.import_module(f"edge.rules.{module.name}")
    return dict(RULES)


def build_rules(setup: RuleSetup) -> list[Rule]:
    """Build the rules listed under ``rules:`` in the scene config, in that order.

    Raises:
        UserFacingError: An unknown rule name or invalid parameters (the field is named as
            ``rules.<rule>.<field>``).
    """
    available = discover_rules()
    rules: list[Rule] = []
    for name, raw in setup.scene.rules.items():
        cls = available.get(name)
        if cls is None:
            raise UserFacingError(
                f"rules.{name}: unknown rule; available: {', '.join(sorted(available))}"
            )
        params = _validate(cls, name, raw or {})
        try:
            rules.append(cls(params, setup))
        except ValueError as exc:
            raise UserFacingError(f"rules.{name}: {exc}") from exc
        logger.debug("rule %s ready", name)
    return rules


def _validate(cls: type[Rule], name: str, raw: dict[str, Any]) -> Any:
    try:
        return cls.Params.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"rules.{name}.{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
            for item in exc.errors()
        ]
        raise UserFacingError("invalid rule parameters:\n  " + "\n  ".join(problems)) from exc
