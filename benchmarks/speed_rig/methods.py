"""The three calibration methods as a person (or the box) would apply them to a rig camera.

Methods 1 and 2 simulate clicks: true pixels of chosen road points plus click noise.
Method 3 uses only what the edge path saw (tracks, vehicle edges).
"""

from __future__ import annotations

import logging

import numpy as np

from benchmarks.speed_rig.measure import SceneRun, tracks_for_auto
from benchmarks.speed_rig.render import VEHICLE_WIDTH_M, face_corners
from calibration.auto import AutoResult, calibrate_from_tracks
from calibration.camera import CameraModel, FloatArray
from calibration.fit import fit_points
from calibration.pinhole import PinholeMount
from calibration.road_geometry import RoadGeometryInput, dash_positions, fit_road_geometry

logger = logging.getLogger(__name__)

CLICK_NOISE_PX = 1.0
"""Standard deviation of a person's click on a marking corner, pixels."""

METHOD1_POINTS = np.array(
    [[x, y] for x in (-8.0, -1.3, 2.2, 5.7) for y in (16.0, 24.0, 36.0)], dtype=np.float64
)
"""Road points a person would survey (marking corners, kerb, median ends), metres."""

LANE_BOUNDARIES = (-1.25, 2.25, 5.75)
"""Lane lines of the carriageway going away (3.5 m lanes)."""


def _clicks(mount: PinholeMount, world: FloatArray, rng: np.random.Generator) -> FloatArray:
    pixels = mount.camera_model().world_to_image(world)
    return np.asarray(pixels + rng.normal(0.0, CLICK_NOISE_PX, pixels.shape), dtype=np.float64)


def method1(mount: PinholeMount, rng: np.random.Generator) -> CameraModel:
    """Point correspondences with click noise."""
    return fit_points(
        _clicks(mount, METHOD1_POINTS, rng), METHOD1_POINTS, image_size=mount.image_size
    ).model


def method2(mount: PinholeMount, rng: np.random.Generator) -> tuple[CameraModel, float | None]:
    """Three lane lines (3.5 m apart) and six dash ends (3 m dash, 9 m gap), clicked."""
    lines = [
        _clicks(mount, np.array([[x, 16.0], [x, 28.0], [x, 45.0]]), rng) for x in LANE_BOUNDARIES
    ]
    along = dash_positions(6, 3.0, 9.0)
    dashes = _clicks(mount, np.array([[LANE_BOUNDARIES[1], 15.0 + a] for a in along]), rng)
    data = RoadGeometryInput(
        lane_lines=lines,
        offsets_m=list(LANE_BOUNDARIES),
        dash_line=1,
        dash_points=dashes,
        dash_positions_m=along,
        image_size=mount.image_size,
    )
    return fit_road_geometry(data)


DATASHEET_FOCAL_ERROR = 1.03
"""Method 3b uses a focal length 3 % off the truth, as a nominal datasheet field of view is."""


def method3(runs: list[SceneRun], mount: PinholeMount, known_focal: bool = False) -> AutoResult:
    """Automatic: the tracks and vehicle edges the edge path saw in every scene.

    With ``known_focal`` (method 3b) the focal length comes from the datasheet instead of
    the vehicles' vertical edges.
    """
    edges = np.vstack([e for run in runs for e in run.edges if len(e)]).reshape(-1, 4)
    focal = mount.focal_px * DATASHEET_FOCAL_ERROR if known_focal else None
    return calibrate_from_tracks(tracks_for_auto(runs), edges, mount.image_size, focal_px=focal)


def ideal_observations(
    runs: list[SceneRun], mount: PinholeMount, every: int = 5
) -> tuple[list[tuple[FloatArray, FloatArray]], FloatArray]:
    """Method 3's input as a perfect detector would give it: true boxes and true vehicle edges.

    Separates what method 3's geometry can do on a camera from the detector's share of the
    error (box jitter, missed far vehicles, Hough edges).
    """
    tracks: list[tuple[FloatArray, FloatArray]] = []
    edges: list[FloatArray] = []
    for run in runs:
        for vehicle in range(len(run.scene.vehicles)):
            seen = [t for t in run.truths if t.visible[vehicle]]
            if len(seen) < 5:
                continue
            boxes = np.array([t.box[vehicle] for t in seen])
            anchors = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]])
            tracks.append((anchors, boxes[:, 2] - boxes[:, 0]))
            aspect = run.scene.vehicles[vehicle].sprite.aspect
            for truth in seen[::every]:
                quad = face_corners(mount, truth.world[vehicle], VEHICLE_WIDTH_M * aspect)
                edges.append(np.array([*quad[0], *quad[3]]))
                edges.append(np.array([*quad[1], *quad[2]]))
    return tracks, np.asarray(edges, dtype=np.float64).reshape(-1, 4)


def method3_ideal(runs: list[SceneRun], mount: PinholeMount) -> AutoResult:
    """Method 3 on perfect observations (see :func:`ideal_observations`)."""
    tracks, edges = ideal_observations(runs, mount)
    return calibrate_from_tracks(tracks, edges, mount.image_size)


def grid_error(model: CameraModel, reference: CameraModel, mount: PinholeMount) -> dict[str, float]:
    """Road-plane disagreement of two calibrations over the lanes 15–50 m out.

    Positions are compared after removing the mean offset (origins differ by method);
    the along-road scale error is what speed inherits.
    """
    world = np.array([[x, y] for x in (-6.5, -3.0, 0.5, 4.0) for y in np.linspace(15, 50, 8)])
    pixels = mount.camera_model().world_to_image(world)
    a, b = model.image_to_world(pixels), reference.image_to_world(pixels)
    near, far = pixels[world[:, 1] == 15.0], pixels[world[:, 1] == 50.0]
    length_a = np.linalg.norm(model.image_to_world(far) - model.image_to_world(near), axis=1)
    length_b = np.linalg.norm(
        reference.image_to_world(far) - reference.image_to_world(near), axis=1
    )
    offset = (a - b) - (a - b).mean(axis=0)
    return {
        "rms_position_m": round(float(np.sqrt((offset**2).sum(axis=1).mean())), 3),
        "along_scale_error_pct": round(float(100 * np.mean(length_a / length_b - 1)), 2),
    }
