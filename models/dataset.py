"""Reading a YOLO-format labelled image set (``images/``, ``labels/``, ``data.yaml``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from models.metrics import FloatArray, IntArray
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

Image = np.ndarray[Any, Any]
"""A BGR image as OpenCV reads it."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DatasetError(UserFacingError):
    """The labelled set is missing, empty or malformed."""


@dataclass(frozen=True)
class LabelledImage:
    """One image of the set and its ground truth in pixels.

    Attributes:
        path: The image file.
        width: Image width in pixels.
        height: Image height in pixels.
        xyxy: Ground-truth boxes ``[x1, y1, x2, y2]`` in pixels, shape ``(G, 4)``.
        class_id: Ground-truth class ids, shape ``(G,)``.
    """

    path: Path
    width: int
    height: int
    xyxy: FloatArray
    class_id: IntArray


class YoloDataset:
    """A YOLO txt-labelled set: one ``labels/<stem>.txt`` of ``class cx cy w h`` per image.

    Example:
        >>> dataset = YoloDataset(Path("../shared/data/detection"))
        >>> dataset.names
        ('car', 'motorcycle', 'bicycle', 'truck', 'bus')
    """

    def __init__(self, root: Path, limit: int | None = None, files: Path | None = None) -> None:
        """Index the set.

        Args:
            root: Folder with ``images/``, ``labels/`` and ``data.yaml`` or ``classes.txt``.
            limit: Use only the first ``limit`` images (sorted by name), for quick runs.
            files: A split list (one image name per line, e.g. ``models/splits/…/val.txt``):
                only these images.

        Raises:
            DatasetError: The folder, its images, its class names or a listed image are
                missing.
        """
        self.root = root
        images_dir, self.labels_dir = root / "images", root / "labels"
        if not images_dir.is_dir():
            raise DatasetError(f"{root}: no images/ folder (expected a YOLO-format set)")
        self.names = read_class_names(root)
        paths = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if files is not None:
            paths = _select(paths, files)
        if not paths:
            raise DatasetError(f"{images_dir}: no images")
        self.image_paths = paths[:limit] if limit else paths

    def __len__(self) -> int:
        return len(self.image_paths)

    def load(self, path: Path) -> tuple[Image, LabelledImage]:
        """Read one image (BGR) and its labels.

        Raises:
            DatasetError: The image is unreadable or a label line is malformed.
        """
        image = cv2.imread(str(path))
        if image is None:
            raise DatasetError(f"{path}: unreadable image")
        height, width = image.shape[:2]
        xyxy, class_id = self._read_labels(self.labels_dir / f"{path.stem}.txt", width, height)
        return image, LabelledImage(path, width, height, xyxy, class_id)

    def __iter__(
        self,
    ) -> Iterator[tuple[Image, LabelledImage]]:
        """Yield ``(image, labels)`` for every image in name order."""
        for path in self.image_paths:
            yield self.load(path)

    def _read_labels(self, path: Path, width: int, height: int) -> tuple[FloatArray, IntArray]:
        if not path.exists():
            return np.empty((0, 4)), np.empty(0, dtype=np.int64)
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        if any(len(row) != 5 for row in rows):
            raise DatasetError(f"{path}: every label line must be 'class cx cy w h'")
        if not rows:
            return np.empty((0, 4)), np.empty(0, dtype=np.int64)
        values = np.asarray(rows, dtype=np.float64)
        class_id = values[:, 0].astype(np.int64)
        if class_id.min() < 0 or class_id.max() >= len(self.names):
            raise DatasetError(f"{path}: class id outside 0..{len(self.names) - 1}")
        cx, cy = values[:, 1] * width, values[:, 2] * height
        w, h = values[:, 3] * width, values[:, 4] * height
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        return xyxy, class_id


def _select(paths: list[Path], files: Path) -> list[Path]:
    if not files.is_file():
        raise DatasetError(f"split list {files} does not exist")
    wanted = [line.strip() for line in files.read_text().splitlines() if line.strip()]
    by_name = {path.name: path for path in paths}
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise DatasetError(
            f"{files}: {len(missing)} listed image(s) not in the set, e.g. {missing[0]}"
        )
    return sorted(by_name[name] for name in wanted)


def read_class_names(root: Path) -> tuple[str, ...]:
    """Class names of a YOLO set from ``data.yaml`` (``names``) or ``classes.txt``.

    Raises:
        DatasetError: Neither file exists or the names are malformed.
    """
    data_yaml = root / "data.yaml"
    if data_yaml.exists():
        names = (yaml.safe_load(data_yaml.read_text()) or {}).get("names")
        if isinstance(names, dict):
            return tuple(str(names[key]) for key in sorted(names))
        if isinstance(names, list):
            return tuple(str(name) for name in names)
        raise DatasetError(f"{data_yaml}: 'names' is neither a list nor a mapping")
    classes_txt = root / "classes.txt"
    if classes_txt.exists():
        return tuple(line.strip() for line in classes_txt.read_text().splitlines() if line.strip())
    raise DatasetError(f"{root}: no data.yaml or classes.txt with the class names")
