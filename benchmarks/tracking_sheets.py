"""Review sheets for track truth: frames with ids drawn, and a strip of crops per track.

An identity switch shows as a strip whose crops change road user; a road user with two ids
as two strips of the same vehicle; a missed road user as an unboxed vehicle on a frame
sheet. Used by ``python -m benchmarks.tracking_truth sheets``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.tracking_truth import TruthBox, Window, by_track, read_frames, video_path

logger = logging.getLogger(__name__)

FRAME_STEP = 20
"""A frame sheet shows every this many frames (four per sheet)."""
CROPS_PER_TRACK = 8
CROP_HEIGHT = 72
TRACKS_PER_SHEET = 24

Image = np.ndarray[Any, Any]


def _colour(track_id: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(track_id)
    b, g, r = (int(v) for v in rng.integers(60, 255, 3))
    return b, g, r


def draw(image: Image, boxes: Sequence[TruthBox]) -> Image:
    """The frame with every box and its id drawn."""
    import cv2

    out = image.copy()
    for b in boxes:
        x1, y1, x2, y2 = (round(v) for v in b.box)
        colour = _colour(b.track_id)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1 if b.interpolated else 2)
        cv2.putText(
            out, str(b.track_id), (x1, max(y1 - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1
        )
    return out


def write_sheets(window: Window, boxes: Sequence[TruthBox], out: Path) -> None:
    """Write frame sheets and track strips of ``boxes`` over ``window`` as PNGs in ``out``."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    frames = dict(read_frames(video_path(window.clip), window.frames))
    per_frame: dict[int, list[TruthBox]] = {}
    for b in boxes:
        per_frame.setdefault(b.frame, []).append(b)
    shown = [i for i in window.frames if (i - window.first) % FRAME_STEP == 0 and i in frames]
    for sheet, start in enumerate(range(0, len(shown), 4)):
        tiles = [
            _labelled(_region(draw(frames[i], per_frame.get(i, [])), window), f"frame {i}")
            for i in shown[start : start + 4]
        ]
        while len(tiles) < 4:
            tiles.append(np.zeros_like(tiles[0]))
        grid = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
        cv2.imwrite(str(out / f"frames_{sheet:02d}.png"), grid)
    strips = [_strip(track_id, group, frames) for track_id, group in by_track(boxes).items()]
    for sheet, start in enumerate(range(0, len(strips), TRACKS_PER_SHEET)):
        cv2.imwrite(
            str(out / f"tracks_{sheet:02d}.png"),
            np.vstack(strips[start : start + TRACKS_PER_SHEET]),
        )
    logger.info("sheets of %s tracks written to %s", len(strips), out)


def _region(image: Image, window: Window) -> Image:
    """The scored region's top edge drawn across the frame."""
    import cv2

    y = round(window.min_bottom)
    cv2.line(image, (0, y), (image.shape[1], y), (0, 255, 255), 1)
    return image


def _labelled(image: Image, text: str) -> Image:
    import cv2

    cv2.putText(image, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return image


def _strip(track_id: int, group: Sequence[TruthBox], frames: dict[int, Image]) -> Image:
    """One row: the id and frame span, then crops evenly spread over the track's life."""
    import cv2

    picks = np.linspace(0, len(group) - 1, CROPS_PER_TRACK).round().astype(int)
    crops = []
    for index in picks:
        b = group[index]
        crop = _crop(frames[b.frame], b.box)
        crops.append(_labelled_small(crop, str(b.frame)))
    label = np.zeros((CROP_HEIGHT, 150, 3), dtype=np.uint8)
    text = f"{track_id} {group[0].object_class[:5]}"
    cv2.putText(label, text, (4, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)
    span = f"{group[0].frame}-{group[-1].frame}"
    cv2.putText(label, span, (4, 56), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (200, 200, 200), 1)
    return np.hstack([label, *crops])


def _crop(image: Image, box: tuple[float, float, float, float]) -> Image:
    """The box with a margin, scaled to a fixed height and width."""
    import cv2

    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    left, top = int(max(x1 - 0.2 * w, 0)), int(max(y1 - 0.2 * h, 0))
    right = int(min(x2 + 0.2 * w, image.shape[1]))
    bottom = int(min(y2 + 0.2 * h, image.shape[0]))
    patch = image[top:bottom, left:right]
    if patch.size == 0:
        return np.zeros((CROP_HEIGHT, CROP_HEIGHT, 3), dtype=np.uint8)
    resized: Image = cv2.resize(patch, (CROP_HEIGHT, CROP_HEIGHT))
    return resized


def _labelled_small(image: Image, text: str) -> Image:
    import cv2

    cv2.putText(image, text, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1)
    return image
