"""Where a weak detection may start a track: close to a counting line.

A road user the detector finds only faintly (small, half hidden in dense traffic) gets no
track from the high-score pass, and if its first strong detection comes just after a
counting line, its crossing is never seen. Near the lines, where a missed track costs a
count, the tracker lets low-score detections start tracks too; elsewhere the stricter
threshold keeps flicker tracks out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Point = tuple[float, float]


class LineFocus:
    """Tests whether boxes' anchors (bottom centres) lie close to any of some segments.

    Args:
        segments: ``(start, end)`` pixel points of each line.
        margin: How close, in box heights (the box's own height: a near road user's
            anchor moves further per frame than a far one's).
    """

    def __init__(self, segments: Sequence[tuple[Point, Point]], margin: float) -> None:
        self.starts = np.array([s for s, _ in segments], dtype=np.float64).reshape(-1, 2)
        self.ends = np.array([e for _, e in segments], dtype=np.float64).reshape(-1, 2)
        self.margin = margin

    def __bool__(self) -> bool:
        return len(self.starts) > 0 and self.margin > 0

    def near(self, boxes: FloatArray) -> npt.NDArray[np.bool_]:
        """Mask of the boxes ``(N, 4)`` xyxy whose anchor is within the margin of a segment."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if not self or len(boxes) == 0:
            return np.zeros(len(boxes), dtype=bool)
        anchors = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        reach = self.margin * np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        direction = self.ends - self.starts  # (S, 2)
        length2 = np.maximum((direction**2).sum(axis=1), 1e-9)
        offset = anchors[:, None, :] - self.starts[None, :, :]  # (N, S, 2)
        along = np.clip((offset * direction[None]).sum(axis=2) / length2, 0.0, 1.0)
        closest = self.starts[None] + along[..., None] * direction[None]
        distance = np.hypot(*(anchors[:, None, :] - closest).transpose(2, 0, 1))
        result: npt.NDArray[np.bool_] = (distance <= reach[:, None]).any(axis=1)
        return result
