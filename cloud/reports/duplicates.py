"""Duplicate reports by meaning: the same category, the same subtype or similar wording.

The intake first keeps open reports of the same category close by and recent (distance and
time, see :class:`~cloud.services.reports.ReportsConfig`); :func:`same_incident` then compares
what they say. Two reports of one category at one place are the same incident when the
classifier gives them the same subtype (two "fallen tree" reports) or their texts are similar
(cosine of the model's features, :data:`TEXT_SIMILARITY`); a fallen tree and a pothole stay two
tickets. Questions and other unclassified requests merge only on similar wording.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from cloud.reports.classify import Category, Classification
from cloud.reports.model import FloatArray, IntArray, cosine, default_model
from cloud.reports.normalize import normalize

Features = tuple[IntArray, FloatArray]

TEXT_SIMILARITY: Final = 0.5
"""Cosine of the feature vectors above which two texts describe the same thing.

Measured on the corpus (``tests/reports/test_duplicates.py``): rewordings of one incident score
0.5-0.8, different hazards at one street 0.1-0.4 (they share only the place name).
"""
SUBTYPE_NEEDS_TEXT: Final = frozenset({Category.OTHER})
"""Categories whose subtype says too little ("a question") to merge on it alone."""
CACHE_SIZE: Final = 20_000


def same_incident(report: Classification, other_subtype: str | None, other: Features) -> bool:
    """Whether a new report describes the same incident as an open one nearby.

    Args:
        report: The new report's classification (category already equal to the other's).
        other_subtype: The open report's stored subtype (None for rows stored before subtypes).
        other: The open report's feature vector.

    Returns:
        True when the subtypes agree (outside :data:`SUBTYPE_NEEDS_TEXT`) or the texts are
        similar.
    """
    if (
        report.category not in SUBTYPE_NEEDS_TEXT
        and other_subtype is not None
        and report.subtype == other_subtype
    ):
        return True
    if report.features is None:
        return False
    return cosine(report.features, other) >= TEXT_SIMILARITY


class SimilarityCache:
    """Feature vectors of recent tickets by row id (bounded; missing ones are recomputed)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._vectors: OrderedDict[int, Features] = OrderedDict()

    def remember(self, row_id: int, features: Features) -> None:
        """Keep one ticket's vector (the oldest is dropped past the bound)."""
        with self._lock:
            self._vectors[row_id] = features
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)

    def features(self, row_id: int, description: str) -> Features:
        """The ticket's vector, from the cache or computed from its text."""
        with self._lock:
            found = self._vectors.get(row_id)
        if found is not None:
            return found
        computed = default_model().vectorise(normalize(description))
        self.remember(row_id, computed)
        return computed
