"""Camera health from image statistics: dark, blocked, blurred, view changed; start and end."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.detections import Detections
from edge.pipeline.analytics import CameraAnalytics
from tests.analytics.factories import NAMES, scene
from traffic_monitor.contract import EventPhase, EventType


def street(seed=0):
    rng = np.random.default_rng(seed)
    image = np.full((240, 320, 3), 110, np.uint8)
    for _ in range(40):  # rectangles: edges like buildings, markings, cars
        x, y = rng.integers(0, 300), rng.integers(0, 220)
        w, h = rng.integers(10, 60), rng.integers(10, 60)
        cv2.rectangle(
            image,
            (int(x), int(y)),
            (int(x + w), int(y + h)),
            [int(v) for v in rng.integers(0, 255, 3)],
            -1,
        )
    return image


def run(images):
    analytics = CameraAnalytics(
        scene(rules={"camera_health": {"every_n_frames": 1, "on_s": 1, "off_s": 1}}), NAMES
    )
    events = []
    for index, image in enumerate(images):
        t = index / 10
        events += analytics.process(
            Detections.empty(), index=index, timestamp=t, wall_time=1.7e9 + t, image=image
        )
    return [e for e in events if e.type == EventType.CAMERA_HEALTH]


NORMAL = street()


@pytest.mark.parametrize(
    ("condition", "bad"),
    [
        ("dark", (NORMAL * 0.1).astype(np.uint8)),
        ("blocked", np.full_like(NORMAL, 128)),
        ("blurred", cv2.GaussianBlur(NORMAL, (0, 0), 8)),
        ("view_changed", street(seed=5)),
    ],
)
def test_condition_starts_and_ends(condition, bad):
    events = run([NORMAL] * 30 + [bad] * 30 + [NORMAL] * 30)
    phases = [(e.phase, e.attributes["condition"]) for e in events]
    assert phases == [(EventPhase.START, condition), (EventPhase.END, condition)]


def test_healthy_view_with_noise_raises_nothing():
    rng = np.random.default_rng(1)
    frames = [
        np.clip(NORMAL + rng.normal(0, 4, NORMAL.shape), 0, 255).astype(np.uint8) for _ in range(60)
    ]
    assert run(frames) == []
