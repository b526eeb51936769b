"""Render a scene: vehicle crops moving over a real background through a known camera."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from benchmarks.speed_rig.sprites import Sprite
from benchmarks.speed_rig.trajectories import Trajectory
from calibration.pinhole import PinholeMount

logger = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]

VEHICLE_WIDTH_M = 1.8
"""Physical width given to every car crop (a typical passenger car)."""

MIN_VISIBLE_WIDTH_PX = 12
"""Narrower vehicles count as not visible (no detector sees them)."""


@dataclass(frozen=True)
class Vehicle:
    """One vehicle of a scene: a crop on a trajectory."""

    trajectory: Trajectory
    sprite: Sprite


@dataclass(frozen=True)
class Imaging:
    """Camera imperfections.

    Attributes:
        exposure_s: Shutter time; motion blur is the average over it.
        blur_samples: Renders averaged over the exposure.
        noise_sigma: Gaussian sensor noise (grey levels).
        jpeg_quality: Compression round trip (0 disables).
    """

    exposure_s: float = 1.0 / 100.0
    blur_samples: int = 3
    noise_sigma: float = 2.0
    jpeg_quality: int = 80


@dataclass(frozen=True)
class Scene:
    """A synthetic scene with exact truth."""

    name: str
    mount: PinholeMount
    background: Image
    vehicles: list[Vehicle]
    fps: float
    duration_s: float
    imaging: Imaging = field(default_factory=Imaging)
    seed: int = 0

    @property
    def frame_count(self) -> int:
        """Frames in the scene."""
        return round(self.duration_s * self.fps)


@dataclass(frozen=True)
class Truth:
    """Where each vehicle is in one frame (rows follow ``Scene.vehicles``).

    Attributes:
        time: Frame time, seconds.
        world: ``(V, 2)`` road-plane positions (metres) of the vehicles' ground contact point.
        speed_mps: ``(V,)`` true speeds.
        anchor: ``(V, 2)`` the contact point in pixels (bottom centre of the vehicle face).
        box: ``(V, 4)`` the rendered face's bounding box, pixels.
        visible: ``(V,)`` started, wide enough and wholly inside the frame.
    """

    time: float
    world: FloatArray
    speed_mps: FloatArray
    anchor: FloatArray
    box: FloatArray
    visible: npt.NDArray[np.bool_]


def face_corners(mount: PinholeMount, world_xy: FloatArray, height_m: float) -> FloatArray:
    """Pixels ``(4, 2)`` of an upright face across the road.

    Corner order: bottom-left, bottom-right, top-right, top-left.
    """
    x, y = float(world_xy[0]), float(world_xy[1])
    half = VEHICLE_WIDTH_M / 2
    corners = np.array(
        [[x - half, y, 0.0], [x + half, y, 0.0], [x + half, y, height_m], [x - half, y, height_m]]
    )
    return mount.project(corners)


def _paste(canvas: FloatArray, sprite: Sprite, quad: FloatArray) -> None:
    """Warp the sprite onto the quad (float canvas, in place, anti-aliased edge)."""
    h, w = sprite.image.shape[:2]
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 1
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x1, canvas.shape[1]), min(y1, canvas.shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return
    src = np.array([[0, h], [w, h], [w, 0], [0, 0]], dtype=np.float32)
    dst = (quad - [cx0, cy0]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    size = (cx1 - cx0, cy1 - cy0)
    patch = cv2.warpPerspective(sprite.image, matrix, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    region = canvas[cy0:cy1, cx0:cx1]
    region[:] = region * (1 - mask[..., None]) + patch.astype(np.float64) * mask[..., None]


def truth_at(scene: Scene, time: float) -> Truth:
    """Exact positions and boxes of every vehicle at ``time``."""
    count = len(scene.vehicles)
    world = np.zeros((count, 2))
    speed = np.zeros(count)
    anchor = np.zeros((count, 2))
    box = np.zeros((count, 4))
    visible = np.zeros(count, bool)
    width, height = scene.mount.image_size
    for index, vehicle in enumerate(scene.vehicles):
        pos, spd = vehicle.trajectory.state(np.array([time]))
        world[index], speed[index] = pos[0], spd[0]
        face_h = VEHICLE_WIDTH_M * vehicle.sprite.aspect
        quad = face_corners(scene.mount, pos[0], face_h)
        anchor[index] = scene.mount.project(np.array([[pos[0, 0], pos[0, 1], 0.0]]))[0]
        box[index] = [*quad.min(axis=0), *quad.max(axis=0)]
        inside = box[index, 0] >= 0 and box[index, 1] >= 0
        inside = inside and box[index, 2] <= width and box[index, 3] <= height
        wide = box[index, 2] - box[index, 0] >= MIN_VISIBLE_WIDTH_PX
        visible[index] = bool(vehicle.trajectory.active(np.array([time]))[0] and inside and wide)
    return Truth(time, world, speed, anchor, box, visible)


def _compose(scene: Scene, time: float) -> FloatArray:
    canvas = scene.background.astype(np.float64)
    order = []
    for vehicle in scene.vehicles:
        if not vehicle.trajectory.active(np.array([time]))[0]:
            continue
        pos, _ = vehicle.trajectory.state(np.array([time]))
        order.append((pos[0, 1], vehicle, pos[0]))
    for _, vehicle, pos in sorted(order, key=lambda item: -item[0]):  # far first
        if pos[1] <= 0.5:
            continue
        quad = face_corners(scene.mount, pos, VEHICLE_WIDTH_M * vehicle.sprite.aspect)
        _paste(canvas, vehicle.sprite, quad)
    return canvas


def render_frame(scene: Scene, index: int, rng: np.random.Generator) -> tuple[Image, Truth]:
    """Render frame ``index`` with motion blur, noise and compression; return it with its truth."""
    time = index / scene.fps
    imaging = scene.imaging
    offsets = np.linspace(-0.5, 0.5, imaging.blur_samples) * imaging.exposure_s
    if imaging.blur_samples == 1:
        offsets = np.zeros(1)
    frame = np.mean([_compose(scene, time + offset) for offset in offsets], axis=0)
    if imaging.noise_sigma > 0:
        frame = frame + rng.normal(0.0, imaging.noise_sigma, frame.shape)
    image: Image = np.asarray(np.clip(np.round(frame), 0, 255), dtype=np.uint8)
    if imaging.jpeg_quality > 0:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, imaging.jpeg_quality])
        if ok:
            image = np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), dtype=np.uint8)
    return image, truth_at(scene, time)


def median_background(video: Path, samples: int = 25) -> Image:
    """A vehicle-free background: the per-pixel median of frames spread over a video.

    Raises:
        FileNotFoundError: The video cannot be read.
    """
    capture = cv2.VideoCapture(str(video))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    try:
        for index in np.linspace(0, max(total - 1, 0), samples).astype(int):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, frame = capture.read()
            if ok:
                frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise FileNotFoundError(f"cannot read frames from {video}")
    return np.asarray(np.median(np.stack(frames), axis=0), dtype=np.uint8)
