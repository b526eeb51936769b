"""Report classifier: category, urgency and emergency kinds, from Vietnamese or English text.

The learned model (:mod:`cloud.reports.model`, trained on the committed corpus) reads the
category, the urgency (high: a danger or an obstruction now; normal: habitual, past, a
request), the emergency probability and kinds, and the subtype (what exactly: a fallen tree or
a pothole, a wrong-way or a speeding driver). The explicit phrases of
:mod:`cloud.reports.lexicon` are a safety net for emergencies only.

Emergency detection is tuned for recall: a report is an emergency when the model's emergency
probability reaches a low threshold (chosen in cross-validation, see ``docs/reports.md``) *or*
a non-negated safety-net phrase matches. A false alarm costs one line with the emergency
number; a miss could cost a life.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

from cloud.reports.lexicon import EMERGENCY_RULES, NEGATIONS, View
from cloud.reports.model import FloatArray, IntArray, ReportModel, default_model
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
    EmergencyKind.TRAPPED: ("114",),
    EmergencyKind.VIOLENCE: ("113",),
}
"""Vietnam's numbers: 113 police, 114 fire and rescue (also people trapped), 115 ambulance."""

KIND_PRIORITY: Final = (
    EmergencyKind.FIRE,
    EmergencyKind.TRAPPED,
    EmergencyKind.INJURY,
    EmergencyKind.VIOLENCE,
)
"""Whose number comes first: fire and rescue reach a fire or a trapped person (and call the
ambulance themselves), the ambulance an injury, the police violence."""

UNCLEAR_CONFIDENCE: Final = 0.35
"""Below this category probability the reply asks for more detail."""
KNOWN_WORDS_MIN: Final = 0.5
"""A report read as ``other`` whose words are mostly unknown to the model is noise: ask."""


@dataclass(frozen=True, slots=True)
class Classification:
    """What the classifier understood from one report."""

    category: Category
    urgency: Urgency
    language: Language
    emergencies: tuple[EmergencyKind, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)
    matched: tuple[str, ...] = ()
    subtype: str = "-"
    confidence: float = 1.0
    needs_detail: bool = False
    features: tuple[IntArray, FloatArray] | None = field(default=None, compare=False, repr=False)
    """The model's sparse feature vector of the text (duplicate checks compare them)."""

    @property
    def emergency(self) -> bool:
        """Whether the report suggests injury, fire, people trapped or violence."""
        return bool(self.emergencies)

    @property
    def primary_emergency(self) -> EmergencyKind | None:
        """The kind whose number comes first (see :data:`KIND_PRIORITY`)."""
        return next((k for k in KIND_PRIORITY if k in self.emergencies), None)

    @property
    def emergency_numbers(self) -> tuple[str, ...]:
        """The numbers to call, the one that fits best first (see :func:`emergency_numbers`)."""
        return emergency_numbers(self.emergencies, self.category)


def emergency_numbers(kinds: Iterable[EmergencyKind], category: Category) -> tuple[str, ...]:
    """The numbers to call for some emergency kinds, the one that fits best first.

    115 for injuries, 114 for fire or people trapped (with 115: a trapped person is often
    hurt), 113 for violence; an accident with injuries also names 113 (the police records
    it), after 115. Empty when there is no emergency.
    """
    kinds = set(kinds)
    numbers = [n for kind in KIND_PRIORITY if kind in kinds for n in EMERGENCY_NUMBERS[kind]]
    if EmergencyKind.TRAPPED in kinds:
        numbers.append("115")
    if EmergencyKind.INJURY in kinds and category is Category.ACCIDENT:
        numbers.append("113")
    return tuple(dict.fromkeys(numbers))


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    view: View
    regex: re.Pattern[str]


@lru_cache(maxsize=1)
def _rules() -> tuple[_Rule, ...]:
    return tuple(_Rule(k, v, re.compile(rf"\b(?:{p})\b")) for k, v, p in EMERGENCY_RULES)


@lru_cache(maxsize=1)
def _negation() -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(NEGATIONS) + r")\b")


def _without_negations(norm: NormalizedText) -> dict[View, str]:
    """Both views with the negated phrases blanked (found on the ascii view)."""
    ascii_text, accented = norm.ascii, norm.accented
    spans = [m.span() for m in _negation().finditer(ascii_text)]
    if not spans:
        return {"a": ascii_text, "v": accented}
    aligned = len(accented) == len(ascii_text)  # NFC: one letter per letter, marks or not
    a_chars, v_chars = list(ascii_text), list(accented)
    for start, end in spans:
        a_chars[start:end] = " " * (end - start)
        if aligned:
            v_chars[start:end] = " " * (end - start)
    return {"a": "".join(a_chars), "v": "".join(v_chars)}


def detect_emergencies(norm: NormalizedText) -> tuple[tuple[EmergencyKind, ...], tuple[str, ...]]:
    """The safety net: explicit injury, fire, trapped or violence phrases, negations removed.

    Args:
        norm: The normalised report text.

    Returns:
        The kinds found, in :class:`EmergencyKind` order, and the phrases that matched.
    """
    views = _without_negations(norm)
    found: set[str] = set()
    matched: list[str] = []
    for rule in _rules():
        hit = rule.regex.search(views[rule.view])
        if hit is not None:
            found.add(rule.kind)
            matched.append(hit.group(0))
    return tuple(k for k in EmergencyKind if k.value in found), tuple(matched)


def _best(probs: Mapping[str, float]) -> tuple[str, float]:
    label = max(probs, key=probs.__getitem__)
    return label, probs[label]


def _emergency_kinds(
    probs: Mapping[str, Mapping[str, float]], rule_kinds: tuple[EmergencyKind, ...], cut: float
) -> tuple[EmergencyKind, ...]:
    """Emergency kinds from the model (probability ≥ ``cut``) and the safety net together."""
    if probs["emergency"]["emergency"] < cut and not rule_kinds:
        return ()
    kind_probs = probs["kinds"]
    kinds = {EmergencyKind(k) for k, p in kind_probs.items() if p >= 0.5} | set(rule_kinds)
    if not kinds:  # an emergency by the model, no kind above one half: the likeliest one
        kinds = {EmergencyKind(_best(kind_probs)[0])}
    return tuple(k for k in EmergencyKind if k in kinds)


def classify(text: str, model: ReportModel | None = None) -> Classification:
    """Classify one citizen report.

    Args:
        text: The report text (Vietnamese with or without diacritics, teencode, or English).
        model: The learned model (default: the packaged one).

    Returns:
        Category, urgency, language, emergency kinds, subtype, confidence, and whether to
        ask the citizen for more detail.
    """
    model = model or default_model()
    norm = normalize(text)
    features = model.vectorise(norm)
    probs = model.predict_vector(*features)
    label, confidence = _best(probs["category"])
    category = Category(label)
    rule_kinds, matched = detect_emergencies(norm)
    emergencies = _emergency_kinds(probs, rule_kinds, float(model.meta["emergency_threshold"]))
    bodily = {EmergencyKind.INJURY, EmergencyKind.FIRE, EmergencyKind.TRAPPED}
    if category in (Category.OTHER, Category.CONGESTION) and bodily & set(emergencies):
        category = Category.ACCIDENT  # a person hurt or a vehicle burning is an incident
    if emergencies:
        urgency = Urgency.EMERGENCY
    else:
        urgency = (
            Urgency.HIGH
            if probs["urgency"]["high"] >= probs["urgency"]["normal"]
            else Urgency.NORMAL
        )
    subtype, _ = _best(probs["subtype"])
    noise = subtype == "unclear" or model.known_share(norm) < KNOWN_WORDS_MIN
    unclear = (category is Category.OTHER and noise) or confidence < UNCLEAR_CONFIDENCE
    needs_detail = unclear and not emergencies
    logger.debug("report classified as %s/%s (p=%.2f)", category, urgency, confidence)
    return Classification(
        category=category,
        urgency=urgency,
        language=norm.language,
        emergencies=emergencies,
        scores=dict(probs["category"]),
        matched=matched,
        subtype=subtype,
        confidence=confidence,
        needs_detail=needs_detail,
        features=features,
    )
