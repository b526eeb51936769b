"""The standard scene set: four motion kinds at 25–30 fps, 30–80 km/h."""

from __future__ import annotations

import logging

from benchmarks.speed_rig.render import Image, Imaging, Scene, Vehicle
from benchmarks.speed_rig.sprites import Sprite
from benchmarks.speed_rig.trajectories import Trajectory
from calibration.pinhole import PinholeMount

logger = logging.getLogger(__name__)

RIG_MOUNT = PinholeMount(
    focal_px=700.0, image_size=(854, 480), height_m=7.0, pitch_deg=7.3, yaw_deg=0.0
)
"""The rig's camera, chosen to match the road of the shared overpass clip (854x480): 7 m up
on the overpass, 7.3° down (the road vanishes near row 150), looking along the road."""

OBLIQUE_MOUNT = PinholeMount(
    focal_px=900.0,
    image_size=(854, 480),
    height_m=9.0,
    pitch_deg=22.0,
    yaw_deg=-22.0,
    position_xy=(-8.0, 0.0),
)
"""A pole-mounted traffic camera as in BrnoCompSpeed: 9 m up on a pole 8 m beside the road,
22° down, turned 22° towards the road, so the road crosses the image obliquely and both the
road-direction and the vertical vanishing points are within a few image heights."""

MOUNTS = {"overpass": RIG_MOUNT, "oblique": OBLIQUE_MOUNT}
"""The rig's cameras by name."""

LANES = (-6.5, -3.0, 0.5, 4.0)
"""Lane centres (3.5 m lanes): two oncoming (left of the median) and two going away."""

ONCOMING_X, AWAY_X = (-8.25, -1.25), (-1.25, 5.75)
"""Across-road extent of the two carriageways (towards the camera, going away), metres."""

NEAR_Y, FAR_Y = 14.0, 60.0
"""Along-road range the vehicles travel (from the image bottom towards the horizon)."""


def _away(kind: str, start: float, lane: int, kmh: float, **extra: float) -> Trajectory:
    return Trajectory(kind, start, NEAR_Y - 2.0, LANES[lane], 1.0, kmh, **extra)  # type: ignore[arg-type]


def _towards(kind: str, start: float, lane: int, kmh: float, **extra: float) -> Trajectory:
    return Trajectory(kind, start, FAR_Y, LANES[lane], -1.0, kmh, **extra)  # type: ignore[arg-type]


def standard_trajectories() -> dict[str, tuple[float, list[Trajectory]]]:
    """Scene name → (fps, trajectories)."""
    return {
        "constant": (
            30.0,
            [
                _away("constant", 0.0, 2, 30.0),
                _towards("constant", 0.3, 0, 50.0),
                _away("constant", 1.5, 3, 65.0),
                _towards("constant", 2.5, 1, 80.0),
                _away("constant", 4.0, 2, 45.0),
            ],
        ),
        "accelerating": (
            25.0,
            [
                _away("accelerating", 0.0, 2, 30.0, accel=2.5),
                _towards("accelerating", 0.5, 1, 75.0, accel=-3.0),
                _away("accelerating", 2.0, 3, 40.0, accel=3.0),
                _towards("accelerating", 3.5, 0, 35.0, accel=2.0),
            ],
        ),
        "lane_change": (
            30.0,
            [
                _away("lane_change", 0.0, 2, 50.0, lane_shift_m=3.5, t1=0.8, manoeuvre_s=2.5),
                _towards("lane_change", 0.5, 1, 60.0, lane_shift_m=-3.5, t1=1.0, manoeuvre_s=2.0),
                _away("lane_change", 2.5, 3, 40.0, lane_shift_m=-3.5, t1=1.0, manoeuvre_s=3.0),
            ],
        ),
        "stop_and_go": (
            25.0,
            [
                _away("stop_and_go", 0.0, 2, 35.0, t1=0.8, manoeuvre_s=1.6),
                _towards("stop_and_go", 0.5, 1, 30.0, t1=1.5, manoeuvre_s=1.5),
                _away("stop_and_go", 1.0, 3, 40.0, t1=1.0, manoeuvre_s=1.8),
            ],
        ),
        "wrong_way": (
            30.0,
            [
                _towards("constant", 0.0, 0, 50.0),
                _towards("constant", 0.5, 3, 40.0),  # wrong way, in the far-side carriageway
                _away("constant", 2.0, 2, 55.0),
            ],
        ),
    }


def standard_scenes(
    background: Image,
    sprites: list[Sprite],
    duration_s: float = 8.0,
    mount: PinholeMount = RIG_MOUNT,
    prefix: str = "",
) -> list[Scene]:
    """Build the standard scenes seen by ``mount``; sprites are dealt out in order.

    Scene names are the motion kind with ``prefix`` in front.

    Raises:
        ValueError: Fewer sprites than vehicles in a scene.
    """
    scenes = []
    for seed, (name, (fps, trajectories)) in enumerate(standard_trajectories().items()):
        if len(sprites) < len(trajectories):
            raise ValueError(f"scene {name} needs {len(trajectories)} sprites, got {len(sprites)}")
        vehicles = [
            Vehicle(trajectory, sprites[(seed * 3 + i) % len(sprites)])
            for i, trajectory in enumerate(trajectories)
        ]
        scenes.append(
            Scene(prefix + name, mount, background, vehicles, fps, duration_s, Imaging(), seed=seed)
        )
    return scenes
