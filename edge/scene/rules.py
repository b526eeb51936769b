"""The ``rules:`` section of a camera: each rule's settings, validated at load by rule name.

``rules`` maps a rule's name to its settings. The name picks the settings model (the rule's
``Params``) from the rule registry (:mod:`edge.rules.registry`): a tagged union keyed by the
mapping key, so an unknown rule and every wrong or misspelt option are refused when the
config is read, with the field named (``rules.speeding.tolerance_kmh``), before any model
loads or the publisher connects.

This module sits below the rules (the rules import :class:`RuleParams` from it); the registry
is imported when a config is validated, never when this module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, SerializeAsAny, ValidationError, WrapValidator
from pydantic_core import InitErrorDetails, PydanticCustomError


class RuleParams(BaseModel):
    """Base of every rule's parameters: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


def validate_rule_settings(value: Any, handler: Any) -> dict[str, RuleParams]:
    """Validate ``{rule name: settings}`` with each named rule's ``Params``, in input order.

    An empty value (``speeding:`` with nothing after it) means the rule's defaults. Every
    problem of every rule is reported at once, each with its path under ``rules``.

    Raises:
        ValidationError: An unknown rule name or invalid settings (fields named).
    """
    del handler  # the registry, not the declared type, says what each entry holds
    if not isinstance(value, Mapping):
        raise PydanticCustomError(
            "rules_type",
            "expected a mapping of rule name to settings, got {kind}",
            {"kind": type(value).__name__},
        )
    from edge.rules.registry import registered_rules  # here: the registry imports the rules

    available = registered_rules()
    settings: dict[str, RuleParams] = {}
    errors: list[InitErrorDetails] = []
    for name, raw in value.items():
        rule = available.get(str(name))
        if rule is None:
            errors.append(_unknown_rule(str(name), raw, available))
            continue
        try:
            settings[str(name)] = rule.Params.model_validate({} if raw is None else raw)
        except ValidationError as exc:
            errors += [_nested(str(name), item) for item in exc.errors()]
    if errors:
        raise ValidationError.from_exception_data("rules", errors)
    return settings


def _unknown_rule(name: str, raw: Any, available: Mapping[str, Any]) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError(
            "unknown_rule",
            "unknown rule; available: {available}",
            {"available": ", ".join(sorted(available))},
        ),
        loc=(name,),
        input=raw,
    )


def _nested(name: str, item: Any) -> InitErrorDetails:
    """One error of a rule's settings, located under the rule's name."""
    return InitErrorDetails(
        type=PydanticCustomError(item["type"], item["msg"]),
        loc=(name, *item["loc"]),
        input=item.get("input"),
    )


RuleSettings = Annotated[
    dict[str, SerializeAsAny[RuleParams]], WrapValidator(validate_rule_settings)
]
"""The validated ``rules:`` section: each rule's name to its own ``Params`` instance."""
