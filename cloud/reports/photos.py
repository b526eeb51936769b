"""Photo checks: size limit, type by content (magic bytes + decoding), re-encoding.

Re-encoding with OpenCV writes a bare JPEG: EXIF (GPS position, camera serial) and any
trailing payload are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

from cloud.reports.errors import RefusedError

logger = logging.getLogger(__name__)

MAGIC: Final[dict[str, tuple[bytes, ...]]] = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
}


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    """A re-encoded photo."""

    jpeg: bytes
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image type by its first bytes (``"jpeg"``, ``"png"``, ``"webp"``), else None."""
    for kind, prefixes in MAGIC.items():
        if data.startswith(prefixes):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def clean_photo(data: bytes, max_bytes: int, max_side: int = 2560) -> CleanPhoto:
    """Check a photo by content and re-encode it as JPEG without metadata.

    Args:
        data: The uploaded bytes.
        max_bytes: Size limit of the upload.
        max_side: Longer side after re-encoding (larger photos are scaled down).

    Returns:
        The re-encoded photo.

    Raises:
        RefusedError: Too large (413), not an image by content (415), or undecodable (400).
    """
    if len(data) > max_bytes:
        raise RefusedError(413, f"photo larger than {max_bytes} bytes")
    kind = sniff(data)
    if kind is None:
        raise RefusedError(415, "photo is not a JPEG, PNG or WebP image (checked by content)")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RefusedError(400, f"photo could not be decoded as {kind}")
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        size = (round(width * scale), round(height * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        height, width = image.shape[:2]
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RefusedError(400, "photo could not be re-encoded")
    logger.debug("photo %s re-encoded to %dx%d JPEG", kind, width, height)
    return CleanPhoto(encoded.tobytes(), width, height)
