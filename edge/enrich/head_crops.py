"""Head crops: the square of the frame around each head, as the head classifier sees it.

Training (:mod:`models.head_classifier`) and the edge (:class:`edge.enrich.head_classifier.
HeadClassifier`) cut crops with this one function, so the classifier is served exactly the
pixels it was trained on: a square ``context`` times the head box's longer side, centred on
the head, cut from the frame at its own resolution (a 1080p camera gives a distant head three
times the pixels a 640-px detector input keeps), padded with grey where it leaves the frame,
and resized to ``size`` × ``size`` RGB.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

CROP_SIZE = 32
"""Side of the classifier's input in pixels."""
CONTEXT = 1.6
"""Side of the cut square, in head-box sides (a little hair, collar and strap around)."""
PAD_VALUE = 114
"""Grey of the padding outside the frame (the detectors' letterbox grey)."""


def crop_heads(
    image: np.ndarray[Any, Any],
    xyxy: npt.ArrayLike,
    size: int = CROP_SIZE,
    context: float = CONTEXT,
) -> npt.NDArray[np.uint8]:
    """Cut a square around each head box and resize it.

    Args:
        image: The BGR frame, shape ``(H, W, 3)``.
        xyxy: Head boxes ``[x1, y1, x2, y2]`` in the frame's pixels, shape ``(N, 4)``.
        size: Output side in pixels.
        context: Side of the cut square in head-box sides.

    Returns:
        RGB crops, shape ``(N, size, size, 3)``.
    """
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    crops = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    height, width = image.shape[:2]
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        half = max(x2 - x1, y2 - y1, 2.0) * context / 2
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        left, top = round(cx - half), round(cy - half)
        side = max(round(2 * half), 2)
        crops[i] = _cut(image, (left, top, side), (width, height), size)
    return crops


def _cut(
    image: np.ndarray[Any, Any], square_at: tuple[int, int, int], frame: tuple[int, int], size: int
) -> npt.NDArray[np.uint8]:
    """One square (``left``, ``top``, ``side``) of the frame, grey outside it, resized, RGB."""
    left, top, side = square_at
    width, height = frame
    square = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, width), min(top + side, height)
    if x1 > x0 and y1 > y0:
        square[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    resized = cv2.resize(square, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(resized[:, :, ::-1])
