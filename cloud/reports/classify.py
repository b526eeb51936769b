"""Report classifier: category, urgency and emergency cues, from Vietnamese or English text.

A weighted keyword/rule model over the normalised views of :mod:`cloud.reports.normalize`
(lexicon in :mod:`cloud.reports.lexicon`). Chosen over a sentence-embedding model because it
runs offline in microseconds (the intake must reply to 200 reports/s on two shared cores),
explains itself (the matched phrases are shown to operators), and meets the quality bar on
the project's test set; see ``docs/reports.md`` for the measurement.

Emergency detection is tuned for recall: a false alarm costs one extra line with the
emergency numbers in the reply, a miss could cost a life.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

from cloud.reports.lexicon import CATEGORY_RULES, EMERGENCY_RULES, NEGATIONS, View
from cloud.reports.normalize import Language, NormalizedText, normalize

logger = logging.getLogger(__name__)


class Category(StrEnum):
    """What the report is about (also the Open311 service codes)."""

    ACCIDENT = "accident"
    CONGESTION = "congestion"
    SIGNAL_FAULT = "signal_fault"
    ILLEGAL_PARKING = "illegal_parking"
    DANGEROUS_DRIVING = "dangerous_driving"
    ROAD_HAZARD = "road_hazard"
    OTHER = "other"


class Urgency(StrEnum):
    """How fast someone must act."""

    EMERGENCY = "emergency"
    HIGH = "high"
    NORMAL = "normal"


class EmergencyKind(StrEnum):
    """Why a report is an emergency."""

    INJURY = "injury"
    FIRE = "fire"
    TRAPPED = "trapped"
    VIOLENCE = "violence"


EMERGENCY_NUMBERS: Final[Mapping[EmergencyKind, tuple[str, ...]]] = {
    EmergencyKind.INJURY: ("115",),
    EmergencyKind.FIRE: ("114",),
    EmergencyKind.TRAPPED: ("114", "115"),
    EmergencyKind.VIOLENCE: ("113",),
}
"""Vietnam's numbers: 113 police, 114 fire and rescue, 115 ambulance."""

HIGH_URGENCY: Final = frozenset(
    {
        Category.ACCIDENT,
        Category.DANGEROUS_DRIVING,
        Category.SIGNAL_FAULT,
        Category.ROAD_HAZARD,
    }
)
"""Categories that are a danger to others right now (urgency ``high`` unless emergency)."""

TIE_ORDER: Final = (
    Category.ACCIDENT,
    Category.SIGNAL_FAULT,
    Category.DANGEROUS_DRIVING,
    Category.ROAD_HAZARD,
    Category.ILLEGAL_PARKING,
    Category.CONGESTION,
    Category.OTHER,
)
"""On equal scores the more safety-relevant category wins."""


@dataclass(frozen=True, slots=True)
class Classification:
    """What the classifier understood from one report."""

    category: Category
    urgency: Urgency
    language: Language
    emergencies: tuple[EmergencyKind, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)
    matched: tuple[str, ...] = ()

    @property
    def emergency(self) -> bool:
        """Whether the report suggests injury, fire, people trapped or violence."""
        return bool(self.emergencies)

    @property
    def emergency_numbers(self) -> tuple[str, ...]:
        """The numbers to call, sorted and without repeats (empty when not an emergency)."""
        numbers = {n for kind in self.emergencies for n in EMERGENCY_NUMBERS[kind]}
        if EmergencyKind.INJURY in self.emergencies and self.category is Category.ACCIDENT:
            numbers.add("113")
        return tuple(sorted(numbers))


@dataclass(frozen=True, slots=True)
class _Compiled:
    label: str
    view: View
    regex: re.Pattern[str]
    weight: float


def _compile(rules: tuple[tuple[str, View, str, float], ...]) -> tuple[_Compiled, ...]:
    return tuple(
        _Compiled(label, view, re.compile(rf"\b(?:{pattern})\b"), weight)
        for label, view, pattern, weight in rules
    )


@lru_cache(maxsize=1)
def _category_rules() -> tuple[_Compiled, ...]:
    return _compile(CATEGORY_RULES)


@lru_cache(maxsize=1)
def _emergency_rules() -> tuple[_Compiled, ...]:
    return _compile(EMERGENCY_RULES)


@lru_cache(maxsize=1)
def _negation() -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(NEGATIONS) + r")\b")


def _text(norm: NormalizedText, view: View) -> str:
    return norm.ascii if view == "a" else norm.accented


def _score(norm: NormalizedText) -> tuple[dict[str, float], list[str]]:
    scores: dict[str, float] = {}
    matched: list[str] = []
    for rule in _category_rules():
        found = rule.regex.search(_text(norm, rule.view))
        if found is not None:
            scores[rule.label] = scores.get(rule.label, 0.0) + rule.weight
            matched.append(found.group(0))
    cue = scores.pop("signal_cue", 0.0)
    if Category.SIGNAL_FAULT.value in scores:
        scores[Category.SIGNAL_FAULT.value] += cue
    return scores, matched


def _pick(scores: Mapping[str, float]) -> Category:
    best = Category.OTHER
    best_score = 0.0
    for category in TIE_ORDER:
        score = scores.get(category.value, 0.0)
        if score > best_score:
            best, best_score = category, score
    return best


def detect_emergencies(norm: NormalizedText) -> tuple[EmergencyKind, ...]:
    """Find injury, fire, trapped or violence cues, ignoring negated ones ("không ai bị thương").

    Args:
        norm: The normalised report text.

    Returns:
        The kinds found, in :class:`EmergencyKind` order (empty if none).
    """
    negation = _negation()
    views: dict[View, str] = {
        "a": negation.sub(" ", norm.ascii),
        "v": negation.sub(" ", norm.accented) if norm.accented != norm.ascii else "",
    }
    found: set[str] = set()
    for rule in _emergency_rules():
        if rule.label not in found and rule.regex.search(views[rule.view]):
            found.add(rule.label)
    return tuple(kind for kind in EmergencyKind if kind.value in found)


def classify(text: str) -> Classification:
    """Classify one citizen report.

    Args:
        text: The report text (Vietnamese with or without diacritics, or English).

    Returns:
        Category, urgency, language, emergency kinds and the phrases that decided.
    """
    norm = normalize(text)
    scores, matched = _score(norm)
    category = _pick(scores)
    emergencies = detect_emergencies(norm)
    if category is Category.OTHER and EmergencyKind.FIRE in emergencies:
        category = Category.ACCIDENT  # a vehicle on fire is handled as an incident
    if emergencies:
        urgency = Urgency.EMERGENCY
    elif category in HIGH_URGENCY:
        urgency = Urgency.HIGH
    else:
        urgency = Urgency.NORMAL
    logger.debug("report classified as %s/%s (scores %s)", category, urgency, scores)
    return Classification(
        category=category,
        urgency=urgency,
        language=norm.language,
        emergencies=emergencies,
        scores=scores,
        matched=tuple(matched),
    )
