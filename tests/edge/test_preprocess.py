"""Pre-processing: the fast blob equals OpenCV's reference; the letterbox matches Ultralytics."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.detector.preprocess import PAD_VALUE, letterbox, to_blob


def test_blob_equals_opencv_blob_from_images() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(3)]
    expected = cv2.dnn.blobFromImages(images, 1 / 255, swapRB=True, crop=False)
    np.testing.assert_array_equal(to_blob(images), expected)


@pytest.mark.parametrize(
    ("shape", "gain", "pad"),
    [
        ((480, 854), 640 / 854, (0, 140)),
        ((480, 640), 1.0, (0, 80)),
        ((1080, 810), 640 / 1080, (80, 0)),
    ],
)
def test_letterbox_scales_and_centres(
    shape: tuple[int, int], gain: float, pad: tuple[int, int]
) -> None:
    image = np.full((*shape, 3), 7, dtype=np.uint8)
    padded, transform = letterbox(image, (640, 640))
    assert padded.shape == (640, 640, 3)
    assert transform.gain == pytest.approx(gain)
    assert (transform.pad_x, transform.pad_y) == pad
    assert (padded[0, 0] == PAD_VALUE).all() or pad == (0, 0)
    assert (padded[320, 320] == 7).all()
