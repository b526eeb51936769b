"""Real vehicle crops from the shared labelled images (YOLO txt labels)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

CAR_CLASS = 0
"""``car`` in ``shared/data/detection/classes.txt``."""

MIN_WIDTH_PX = 90
"""Crops narrower than this look blurry when rendered near the camera."""

ASPECT_RANGE = (0.55, 1.25)
"""Height/width of a crop seen roughly from behind or in front (side views are wider)."""


@dataclass(frozen=True)
class Sprite:
    """A vehicle crop.

    Attributes:
        image: BGR crop.
        source: ``file:line`` of the label it came from.
    """

    image: npt.NDArray[np.uint8]
    source: str

    @property
    def aspect(self) -> float:
        """Height over width."""
        return float(self.image.shape[0]) / float(self.image.shape[1])


def load_sprites(dataset: Path, count: int, class_id: int = CAR_CLASS) -> list[Sprite]:
    """Take the first ``count`` suitable crops (sorted file order: deterministic).

    Suitable: the wanted class, at least :data:`MIN_WIDTH_PX` wide, inside the image (not
    cut by its border) and with an aspect in :data:`ASPECT_RANGE`.

    Raises:
        FileNotFoundError: The dataset has no ``labels``/``images`` folders or too few crops.
    """
    labels = sorted((dataset / "labels").glob("*.txt"))
    if not labels:
        raise FileNotFoundError(f"no labels under {dataset / 'labels'}")
    sprites: list[Sprite] = []
    for label in labels:
        image_path = dataset / "images" / f"{label.stem}.jpg"
        image = cv2.imread(str(image_path)) if image_path.is_file() else None
        if image is None:
            continue
        sprites.extend(_crops(label, np.asarray(image, dtype=np.uint8), class_id))
        if len(sprites) >= count:
            return sprites[:count]
    raise FileNotFoundError(f"only {len(sprites)} suitable crops in {dataset}, wanted {count}")


def _crops(label: Path, image: npt.NDArray[np.uint8], class_id: int) -> list[Sprite]:
    height, width = image.shape[:2]
    out: list[Sprite] = []
    for number, line in enumerate(label.read_text().splitlines(), start=1):
        fields = line.split()
        if len(fields) != 5 or int(fields[0]) != class_id:
            continue
        cx, cy, w, h = (float(v) for v in fields[1:])
        x1, y1 = round((cx - w / 2) * width), round((cy - h / 2) * height)
        x2, y2 = round((cx + w / 2) * width), round((cy + h / 2) * height)
        if x1 <= 1 or y1 <= 1 or x2 >= width - 1 or y2 >= height - 1:
            continue
        if (
            x2 - x1 < MIN_WIDTH_PX
            or not ASPECT_RANGE[0] <= (y2 - y1) / (x2 - x1) <= ASPECT_RANGE[1]
        ):
            continue
        out.append(Sprite(image[y1:y2, x1:x2].copy(), f"{label.name}:{number}"))
    return out
