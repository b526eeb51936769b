"""An offline outline of the roads for the camera map, generated from the cameras' calibration.

Without a tile server the map draws this GeoJSON under the camera dots. No street map can be
fetched here, so the outline is what the cameras themselves know: each carriageway zone of a
calibrated scene, mapped from image pixels to the road plane by the scene's homography, then
placed on the globe from the camera's position and heading (north when the config has no
heading; the feature then says ``heading_assumed``). Points near the horizon are clipped to
``MAX_RANGE_M`` from the camera. A city with a real street map drops its own GeoJSON in place
of ``cloud/web/maps/roads.geojson``.

Run ``python -m cloud.web.roads configs/*.yaml`` to regenerate the shipped file.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from traffic_monitor.contract.placement import CalibrationPoints, SceneOutline, read_placement

logger = logging.getLogger(__name__)

MAX_RANGE_M = 120.0
"""Farthest road-plane distance drawn from a camera (the homography diverges at the horizon)."""
METRES_PER_DEGREE = 111_320.0
"""Metres per degree of latitude (and of longitude at the equator); exact to ~0.5 % here."""
OUTPUT = Path(__file__).resolve().parent / "maps" / "roads.geojson"
ROAD_KINDS = ("carriageway",)


def _to_world(scene: SceneOutline, points: Sequence[Sequence[float]]) -> np.ndarray:
    assert isinstance(scene.calibration, CalibrationPoints)
    src = np.asarray(scene.calibration.image_points, np.float64)
    dst = np.asarray(scene.calibration.world_points, np.float64)
    matrix, _ = cv2.findHomography(src, dst)
    pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
    world: np.ndarray = cv2.perspectiveTransform(pts, matrix).reshape(-1, 2)
    distance = np.hypot(world[:, 0], world[:, 1])
    scale = np.where(distance > MAX_RANGE_M, MAX_RANGE_M / np.maximum(distance, 1e-9), 1.0)
    behind = world[:, 1] < -MAX_RANGE_M  # past the horizon the plane folds behind the camera
    world[behind] = world[behind] * -1.0
    return np.asarray(world * scale[:, None])


def _to_lon_lat(world: np.ndarray, lat: float, lon: float, heading_deg: float) -> list[list[float]]:
    theta = math.radians(heading_deg)
    east = world[:, 0] * math.cos(theta) + world[:, 1] * math.sin(theta)
    north = -world[:, 0] * math.sin(theta) + world[:, 1] * math.cos(theta)
    lats = lat + north / METRES_PER_DEGREE
    lons = lon + east / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lons, lats, strict=True)]


def scene_roads(scene: SceneOutline, source: str) -> list[dict[str, Any]]:
    """GeoJSON polygons of a scene's carriageway zones (none without position or calibration)."""
    cam = scene.camera
    if cam.location is None or not isinstance(scene.calibration, CalibrationPoints):
        return []  # a calibration file's lens model is not drawn here
    heading = cam.location.heading_deg
    features = []
    for zone in scene.zones:
        if zone.kind not in ROAD_KINDS:
            continue
        world = _to_world(scene, zone.polygon)
        ring = _to_lon_lat(world, cam.location.lat, cam.location.lon, heading or 0.0)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {
                    "camera_id": cam.id,
                    "zone": zone.name,
                    "kind": str(zone.kind),
                    "source": source,
                    "heading_assumed": heading is None,
                },
            }
        )
    return features


def roads_geojson(configs: Iterable[Path]) -> dict[str, Any]:
    """The outline of every calibrated, positioned scene among ``configs``."""
    features: list[dict[str, Any]] = []
    for path in configs:
        for scene in read_placement(path).scenes:
            features += scene_roads(scene, f"calibration of {path.name}")
    return {
        "type": "FeatureCollection",
        "name": "roads generated from the cameras' calibration (approximate)",
        "features": features,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write the outline of the given scene configs (default: the shipped file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = json.dumps(roads_geojson(args.configs), ensure_ascii=False, indent=1)
    args.out.write_text(text + "\n", encoding="utf-8")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
