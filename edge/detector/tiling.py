"""Sliced inference: tiles over a region of the frame, detected beside the full frame, merged.

Distant road users are a few pixels tall once a wide frame is shrunk to the network input.
Tiles cut from a region of the frame (the far field, typically) reach the network at a larger
scale. Each tile is detected like a frame of its own, in the same batch as the full frame;
the tile detections are moved back into frame pixels and merged with the full frame's by
class-aware suppression.

Hand-written rather than taken from ``sahi``: its core install pulls ``opencv-python`` (the GUI
build, which clashes with the headless OpenCV of the edge box), matplotlib, shapely and
Pillow, and its merge works on one Python object per box; what the edge needs from it is the
tile geometry below and a vectorised suppression (both a few lines, tested in
``tests/edge/test_detector_tiling.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.detections import Detections

logger = logging.getLogger(__name__)


class TilingConfig(BaseModel):
    """Where to cut tiles and how to merge their detections (``detector.tiles``)."""

    model_config = ConfigDict(extra="forbid")

    region: tuple[int, int, int, int] | None = Field(
        default=None,
        description=(
            "x, y, width, height in native frame pixels of the part of the frame that is "
            "tiled (the far field, where road users are smallest); empty: the whole frame."
        ),
    )
    grid: tuple[int, int] = Field(
        default=(2, 1),
        description="Tiles across and down the region (columns, rows).",
    )
    overlap: float = Field(
        default=0.2,
        ge=0.0,
        lt=0.9,
        description=(
            "Share of a tile's width (height) shared with its neighbour, so that a road user "
            "cut by one tile's edge is whole in the next."
        ),
    )
    imgsz: int | None = Field(
        default=None,
        ge=32,
        description=(
            "Long side of the network input of a tile with a dynamic-size model; empty: the "
            "detector's. A fixed-size model runs each tile at its own input size."
        ),
    )
    full_frame: bool = Field(
        default=True,
        description="Also detect on the whole frame (large and near road users).",
    )
    merge_iou: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="IoU above which the lower-scored of two boxes of one class is dropped.",
    )
    merge_ios: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description=(
            "Share of the smaller box inside a higher-scored box of the same class above which "
            "the smaller is dropped (the part of a road user cut by a tile's edge)."
        ),
    )

    @field_validator("grid")
    @classmethod
    def _positive_grid(cls, grid: tuple[int, int]) -> tuple[int, int]:
        if grid[0] < 1 or grid[1] < 1:
            raise ValueError(f"grid {list(grid)}: columns and rows must be at least 1")
        return grid

    @field_validator("region")
    @classmethod
    def _positive_region(
        cls, region: tuple[int, int, int, int] | None
    ) -> tuple[int, int, int, int] | None:
        if region is not None and (region[0] < 0 or region[1] < 0 or min(region[2:]) <= 0):
            raise ValueError(f"region {list(region)}: x, y >= 0 and width, height > 0")
        return region


@dataclass(frozen=True)
class Tile:
    """One crop of a frame: its top-left corner and size in frame pixels."""

    x: int
    y: int
    width: int
    height: int


def tile_boxes(frame_size: tuple[int, int], config: TilingConfig) -> list[Tile]:
    """The tiles of a frame of ``(width, height)``: a grid over the region, overlapping.

    The region is clipped to the frame; a region outside the frame gives no tiles.
    """
    width, height = frame_size
    x, y, w, h = config.region or (0, 0, width, height)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 <= x or y1 <= y:
        return []
    xs = _starts(x, x1 - x, config.grid[0], config.overlap)
    ys = _starts(y, y1 - y, config.grid[1], config.overlap)
    return [Tile(tx, ty, tw, th) for ty, th in ys for tx, tw in xs]


def _starts(origin: int, length: int, count: int, overlap: float) -> list[tuple[int, int]]:
    """``count`` spans of one size covering ``[origin, origin + length)`` with overlap."""
    size = round(length / (count - (count - 1) * overlap)) if count > 1 else length
    size = min(max(size, 1), length)
    if count == 1:
        return [(origin, size)]
    step = (length - size) / (count - 1)
    return [(origin + round(i * step), size) for i in range(count)]


def crop(frame: np.ndarray[Any, Any], tile: Tile) -> np.ndarray[Any, Any]:
    """The tile's pixels (a view, no copy)."""
    return frame[tile.y : tile.y + tile.height, tile.x : tile.x + tile.width]


def merge(parts: list[Detections], config: TilingConfig, max_detections: int) -> Detections:
    """Merge full-frame and tile detections (all in frame pixels) into one set.

    Boxes are taken highest score first; a box is dropped when a kept box of the same class
    overlaps it with IoU above ``merge_iou`` or covers more than ``merge_ios`` of its area.
    """
    merged = Detections.merge([part for part in parts if len(part)])
    if len(merged) < 2:
        return merged
    keep = _suppress(merged, config.merge_iou, config.merge_ios)
    return merged[keep[:max_detections]]


def _suppress(detections: Detections, iou: float, ios: float) -> np.ndarray[Any, Any]:
    """Indices kept by greedy suppression on IoU and intersection over the smaller box."""
    boxes = detections.xyxy.astype(np.float64)
    order = np.argsort(-detections.confidence, kind="stable")
    boxes, classes = boxes[order], detections.class_id[order]
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    top_left = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    union = area[:, None] + area[None, :] - inter
    smaller = np.minimum(area[:, None], area[None, :])
    clash = (inter > iou * np.maximum(union, 1e-9)) | (inter > ios * np.maximum(smaller, 1e-9))
    clash &= classes[:, None] == classes[None, :]
    dropped = np.zeros(len(boxes), dtype=bool)
    for row in range(len(boxes)):
        if not dropped[row]:
            dropped[row + 1 :] |= clash[row, row + 1 :]
    kept: np.ndarray[Any, Any] = order[~dropped]
    return kept
