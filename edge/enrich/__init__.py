"""Second-stage models between tracking and the rules: the enrichment stage.

An :class:`Enricher` runs a second model (a head/helmet detector, later a plate reader or a
classifier) on one frame and writes what it finds as columns of ``Detections.data``, one
value per row. It runs only where its rule needs it (some frames, some rows), once per
frame for all those rows; the rule then only reads the columns. A rule that needs one
returns it from :meth:`edge.rules.base.Rule.enrichers`, built from the rule's own settings,
and :class:`edge.pipeline.analytics.CameraAnalytics` runs every enricher of its rules after
tracking and before any rule.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from edge.detections import Detections


class Enricher(Protocol):
    """A second-stage model that adds per-row columns to a frame's tracked detections."""

    name: str
    """Short name (logs, faults)."""

    def enrich(
        self, image: np.ndarray[Any, Any] | None, detections: Detections, timestamp: float
    ) -> Detections:
        """Return ``detections`` with this enricher's columns added where it ran.

        Args:
            image: The BGR frame (None where a caller has no image: nothing to enrich).
            detections: The frame's detections, ``tracker_id`` set by the tracker.
            timestamp: Media time of the frame in seconds (for enrichers that run at
                intervals).

        Returns:
            The same rows; on frames it skips, ``detections`` unchanged (no column).
        """
        ...


__all__ = ["Enricher"]
