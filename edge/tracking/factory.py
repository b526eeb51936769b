"""Trackers by name: ``tracker.type`` in a scene config picks one of :data:`TRACKERS`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from edge.tracking.base import Tracker
from edge.tracking.bytetrack import ByteTracker
from edge.tracking.config import TrackerConfig
from edge.tracking.focus import Point

TrackerFactory = Callable[[TrackerConfig, Sequence[str], Sequence[tuple[Point, Point]]], Tracker]
"""``(config, class_names, counting lines) -> tracker``."""


def _bytetrack(
    config: TrackerConfig, class_names: Sequence[str], lines: Sequence[tuple[Point, Point]]
) -> Tracker:
    return ByteTracker(config, class_names, lines=lines)


TRACKERS: dict[str, TrackerFactory] = {"bytetrack": _bytetrack}
"""Every tracker a scene may name, by its ``tracker.type``."""


def build_tracker(
    config: TrackerConfig,
    class_names: Sequence[str],
    lines: Sequence[tuple[Point, Point]] = (),
) -> Tracker:
    """The tracker ``config.type`` names, built for one camera.

    Args:
        config: The scene's tracker section.
        class_names: The detector's class names.
        lines: The scene's counting lines ``(start, end)`` (trackers may favour them).

    Returns:
        A fresh tracker with no tracks.
    """
    return TRACKERS[config.type](config, class_names, lines)
