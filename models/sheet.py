"""``models sheet``: contact sheets of the confident predictions that matched no label.

A figure says how many boxes missed; only the pictures say why. This draws the misses of one
class and kind (:func:`models.crossval.confident_misses`) from a ``models loso
--predictions`` file: each cell is a crop of the image around the box (the predicted box in
red, the set's labels in green), with its score. The images are given back their camera's
shape (``frame_aspect`` of the set's ``sites.yaml``), as the detector saw them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from models.crossval import (
    FALSE_POSITIVE_KINDS,
    Miss,
    confident_misses,
    load_predictions,
    load_sites,
)
from models.metrics import ImageBoxes
from models.train import PRESETS
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import shared_path

logger = logging.getLogger(__name__)

CELL = 160
"""Side of one cell of the sheet, in pixels."""
MARGIN = 0.6
"""Context around a box, as a share of its longer side."""


@dataclass(frozen=True)
class SheetOptions:
    """What to draw.

    Attributes:
        class_name: A class of the set (``motorcycle``).
        kind: One of :data:`models.crossval.FALSE_POSITIVE_KINDS`.
        preset: The labelled set the predictions are of.
        score: Lowest score drawn (the report's operating point by default).
        limit: At most this many cells, highest scores first.
        columns: Cells per row.
    """

    class_name: str
    kind: str = "unlabelled"
    preset: str = "vn-vehicles"
    score: float = 0.25
    limit: int = 60
    columns: int = 10


def draw_sheet(predictions: Path, out: Path, options: SheetOptions) -> int:
    """Write the sheet of ``options``' misses; returns how many misses there are in all.

    Raises:
        UserFacingError: An unknown preset, class or kind, or a missing predictions file.
    """
    if options.preset not in PRESETS:
        raise UserFacingError(f"unknown preset {options.preset}; known: {', '.join(PRESETS)}")
    if options.kind not in FALSE_POSITIVE_KINDS:
        raise UserFacingError(f"kind {options.kind!r}; known: {', '.join(FALSE_POSITIVE_KINDS)}")
    if not predictions.is_file():
        raise UserFacingError(f"predictions file {predictions} does not exist")
    root = shared_path(*PRESETS[options.preset].dataset.split("/"))
    names = (root / "classes.txt").read_text().split()
    if options.class_name not in names:
        raise UserFacingError(f"class {options.class_name!r}; the set has {', '.join(names)}")
    images = load_predictions(predictions)
    misses = [
        miss
        for miss in confident_misses(images, names.index(options.class_name), options.score)
        if miss.kind == options.kind
    ]
    misses.sort(key=lambda miss: -miss.score)
    aspect = load_sites(options.preset).aspect
    cells = [_cell(root, miss, images[miss.image], aspect) for miss in misses[: options.limit]]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), _tile(cells, options.columns))
    logger.info("%d %s misses of %s; %d drawn in %s", len(misses), options.kind,
                options.class_name, len(cells), out)  # fmt: skip
    return len(misses)


def _cell(root: Path, miss: Miss, image: ImageBoxes, aspect: float | None) -> Any:
    """The crop around one miss, its labels drawn, at the camera's shape."""
    picture = cv2.imread(str(root / "images" / miss.image))
    if picture is None:
        raise UserFacingError(f"{root / 'images' / miss.image}: unreadable image")
    height, width = picture.shape[:2]
    scale = 1.0 if aspect is None else height * aspect / width
    picture = cv2.resize(picture, (round(width * scale), height))
    for box in image.gt_xyxy:
        _box(picture, box, scale, (0, 255, 0), 1)
    x1, y1, x2, y2 = _box(picture, miss.xyxy, scale, (0, 0, 255), 2)
    margin = MARGIN * max(x2 - x1, y2 - y1)
    top, left = max(0, int(y1 - margin)), max(0, int(x1 - margin))
    crop = picture[top : int(y2 + margin) + 1, left : int(x2 + margin) + 1]
    cell = cv2.resize(crop, (CELL, CELL))
    label = f"{miss.score:.2f} {miss.image}"
    cv2.putText(cell, label, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
    return cell


def _box(picture: Any, box: Any, scale: float, colour: tuple[int, int, int], width: int) -> Any:
    x1, y1, x2, y2 = float(box[0]) * scale, float(box[1]), float(box[2]) * scale, float(box[3])
    cv2.rectangle(picture, (int(x1), int(y1)), (int(x2), int(y2)), colour, width)
    return x1, y1, x2, y2


def _tile(cells: list[Any], columns: int) -> Any:
    """Cells in rows of ``columns`` (black cells fill the last row); one black cell if none."""
    blank = np.zeros((CELL, CELL, 3), dtype=np.uint8)
    cells = cells or [blank]
    cells = cells + [blank] * (-len(cells) % columns)
    rows = [np.hstack(cells[i : i + columns]) for i in range(0, len(cells), columns)]
    return np.vstack(rows)
