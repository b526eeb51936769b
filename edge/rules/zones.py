"""Zone membership of anchors, shared by the zone-based rules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.scene import SceneConfig, Zone, ZoneKind
from edge.scene.geometry import as_points, in_polygon


def select_zones(
    scene: SceneConfig, names: Sequence[str] | None, kinds: Sequence[ZoneKind]
) -> list[Zone]:
    """Zones by name when ``names`` is given, else every zone of the given kinds.

    Raises:
        ValueError: A named zone does not exist (the message lists the configured ones).
    """
    if names is None:
        return [zone for zone in scene.zones if zone.kind in kinds]
    by_name = {zone.name: zone for zone in scene.zones}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ValueError(
            f"unknown zone(s) {', '.join(missing)}; configured: {', '.join(by_name) or 'none'}"
        )
    return [by_name[name] for name in names]


def inside(
    zone: Zone, points: npt.NDArray[np.float64] | npt.NDArray[np.float32]
) -> npt.NDArray[np.bool_]:
    """Which anchor points lie in the zone."""
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    return in_polygon(as_points(zone.polygon), as_points(points))


def inside_any(
    zones: Sequence[Zone], points: npt.NDArray[np.float64] | npt.NDArray[np.float32]
) -> npt.NDArray[np.bool_]:
    """Which points lie in at least one of the zones."""
    mask = np.zeros(len(points), dtype=bool)
    for zone in zones:
        mask |= inside(zone, points)
    return mask
