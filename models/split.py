"""Scene-disjoint train/validation splits of a labelled image set.

The shared Vietnamese sets come in runs of frames from the same cameras. A random split
puts near-identical frames on both sides and overstates accuracy, so images are grouped
by scene first and whole scenes go to one side.

Scenes are found from the images themselves (no camera ids are given): every image is
reduced to a 32×32 grey thumbnail, and two images are the same scene when their
thumbnails correlate at least ``min_correlation``, or when they are neighbours in the
set's numeric file order (the source numbered frames in capture runs) and correlate at
least ``run_correlation``. Scenes are the connected components of that graph
(``scipy.sparse.csgraph``), so a fixed camera's frames chain together even as traffic
changes. The grouping errs towards merging: two look-alike roads end up on one side.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.sparse.csgraph import connected_components

from models.dataset import IMAGE_SUFFIXES, DatasetError

logger = logging.getLogger(__name__)

THUMBNAIL = 32
"""Side of the grey thumbnail used to compare scenes, in pixels."""


@dataclass(frozen=True)
class SceneSplit:
    """A split of one set by scene.

    Attributes:
        train: Image file names (relative to ``images/``) for training.
        val: Image file names for validation; no scene is on both sides.
        scene_of: Scene number of every image name.
    """

    train: tuple[str, ...]
    val: tuple[str, ...]
    scene_of: dict[str, int]

    def write(self, folder: Path) -> None:
        """Write ``train.txt``, ``val.txt`` and ``scenes.txt`` (one name per line)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train.txt").write_text("\n".join(self.train) + "\n")
        (folder / "val.txt").write_text("\n".join(self.val) + "\n")
        scenes = "\n".join(f"{name} {scene}" for name, scene in sorted(self.scene_of.items()))
        (folder / "scenes.txt").write_text(scenes + "\n")

    @staticmethod
    def read(folder: Path) -> SceneSplit:
        """Read a split written by :meth:`write`.

        Raises:
            DatasetError: A list file is missing.
        """
        try:
            train = _read_list(folder / "train.txt")
            val = _read_list(folder / "val.txt")
            scenes = [line.split() for line in _read_list(folder / "scenes.txt")]
        except FileNotFoundError as exc:
            raise DatasetError(f"split {folder}: {exc.filename} is missing") from exc
        return SceneSplit(tuple(train), tuple(val), {name: int(s) for name, s in scenes})


def _read_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def scene_groups(
    image_paths: list[Path], min_correlation: float = 0.5, run_correlation: float = 0.3
) -> list[int]:
    """Group images by scene.

    Args:
        image_paths: The images, in the set's file order.
        min_correlation: Any two thumbnails correlating at least this much are one scene.
        run_correlation: Neighbours in file order correlating at least this much are one
            scene.

    Returns:
        A scene number per image (aligned with ``image_paths``).
    """
    if len(image_paths) < 2:
        return [0] * len(image_paths)
    thumbs = np.stack([_thumbnail(path) for path in image_paths])
    thumbs -= thumbs.mean(axis=1, keepdims=True)
    thumbs /= thumbs.std(axis=1, keepdims=True) + 1e-6
    correlation = thumbs @ thumbs.T / thumbs.shape[1]
    linked = correlation >= min_correlation
    neighbours = np.diagonal(correlation, offset=1) >= run_correlation
    index = np.flatnonzero(neighbours)
    linked[index, index + 1] = linked[index + 1, index] = True
    _, labels = connected_components(linked, directed=False)
    return [int(label) for label in labels]


def _file_order(path: Path) -> tuple[int, str]:
    """Numeric file names in numeric order (``9.jpg`` before ``10.jpg``), others after."""
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 62, path.stem)


def _thumbnail(path: Path) -> np.ndarray[tuple[int], np.dtype[np.float32]]:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DatasetError(f"{path}: unreadable image")
    small = cv2.resize(image, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32).ravel()


def split_by_scene(
    root: Path,
    val_fraction: float = 0.25,
    seed: int = 0,
    max_scene_share: float = 0.25,
    min_correlation: float = 0.5,
) -> SceneSplit:
    """Split a YOLO set into train and validation with no scene on both sides.

    Scenes are drawn in a seeded random order into validation until it holds
    ``val_fraction`` of the images. Scenes larger than ``max_scene_share`` of the set stay
    in training (one dominant camera in validation would make the figure about that one
    camera).

    Args:
        root: Set folder with ``images/``.
        val_fraction: Target share of images in validation.
        seed: Seed of the scene order.
        max_scene_share: Largest scene share that may go to validation.
        min_correlation: Passed to :func:`scene_groups`.

    Returns:
        The split.

    Raises:
        DatasetError: The set has no images.
    """
    images = sorted(
        (p for p in (root / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES),
        key=_file_order,
    )
    if not images:
        raise DatasetError(f"{root}/images: no images")
    groups = scene_groups(images, min_correlation)
    members: dict[int, list[str]] = {}
    for path, group in zip(images, groups, strict=True):
        members.setdefault(group, []).append(path.name)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    target, limit = val_fraction * len(images), max_scene_share * len(images)
    val: list[str] = []
    for group in order:
        if len(val) >= target:
            break
        if len(members[group]) <= limit and len(val) + len(members[group]) <= target * 1.2:
            val.extend(members[group])
    val_set = set(val)
    train = sorted(path.name for path in images if path.name not in val_set)
    scene_of = {path.name: group for path, group in zip(images, groups, strict=True)}
    logger.info("%s: %d scenes, %d train / %d val images", root, len(members), len(train), len(val))
    return SceneSplit(tuple(train), tuple(sorted(val)), scene_of)
