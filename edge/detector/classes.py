"""The product's road-user classes, and the one place model class names are mapped to them.

Everything downstream of the detector (tracker, rules, events, dashboards, open data) speaks
the product's class names. Models do not always: the COCO models say ``motorcycle`` and
``person``, other exports say ``motorbike``, ``pedestrian`` or ``without_helmet``. The
detector maps its model's names through :func:`product_names` at load, so a COCO model and
the Vietnamese model work with the same rules and scene configs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

logger = logging.getLogger(__name__)

ROAD_USER_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
"""Road users the product tracks and counts. ``motorcycle`` means the motorbike with its
rider(s) where the model boxes them together; ``person`` is a pedestrian (a COCO rider box
is folded into its motorbike by the tracker's pre-filter)."""

HEAD_CLASSES = ("head_helmet", "head_no_helmet")
"""A rider's head with and without a helmet (the helmet model's classes)."""

PRODUCT_CLASSES = ROAD_USER_CLASSES + HEAD_CLASSES
"""Every class name a rule may ask for."""

ALIASES: dict[str, str] = {
    "motorbike": "motorcycle",
    "motor": "motorcycle",
    "moto": "motorcycle",
    "scooter": "motorcycle",
    "xe_may": "motorcycle",
    "pedestrian": "person",
    "people": "person",
    "cyclist": "bicycle",
    "bike": "bicycle",
    "van": "car",
    "taxi": "car",
    "lorry": "truck",
    "coach": "bus",
    "helmet": "head_helmet",
    "with_helmet": "head_helmet",
    "without_helmet": "head_no_helmet",
    "no_helmet": "head_no_helmet",
    "nohelmet": "head_no_helmet",
}
"""Model class name (lower case, spaces and dashes as ``_``) → product class name."""


def product_name(model_name: str) -> str:
    """Map one model class name to the product's name.

    A name that is neither a product class nor a known alias (COCO's ``dog``, ``chair``…)
    is kept as it is: no rule asks for it.

    Example:
        >>> product_name("Motorbike"), product_name("without helmet"), product_name("dog")
        ('motorcycle', 'head_no_helmet', 'dog')
    """
    key = model_name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in PRODUCT_CLASSES:
        return key
    return ALIASES.get(key, model_name)


def product_names(model_names: Sequence[str]) -> tuple[str, ...]:
    """Map a model's class names (in class-id order) to the product's names.

    Raises:
        ValueError: Two model classes map to the same product class (the model's ids would
            become ambiguous downstream).
    """
    mapped = tuple(product_name(name) for name in model_names)
    seen: dict[str, str] = {}
    for original, name in zip(model_names, mapped, strict=True):
        if name in seen:
            raise ValueError(
                f"model classes {seen[name]!r} and {original!r} both map to {name!r}; "
                "rename one in the model's metadata"
            )
        seen[name] = original
    renamed = [f"{a}→{b}" for a, b in zip(model_names, mapped, strict=True) if a != b]
    if renamed:
        logger.info("model class names mapped to product classes: %s", ", ".join(renamed))
    return mapped


def covered_road_users(names: Sequence[str]) -> tuple[str, ...]:
    """The product road-user classes a model with these (product) names detects."""
    return tuple(name for name in ROAD_USER_CLASSES if name in names)
