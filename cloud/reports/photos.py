"""Photo checks: size limit, type by content, pixel count before decoding, re-encoding.

A photo's width and height are read from its header (Pillow opens lazily: nothing is
decoded) and a photo with more than ``max_pixels`` is refused before any decoder runs: a
213 KB PNG can announce 15000 x 15000 pixels and cost 1.7 GB to decode (a decompression
bomb). Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale straight from the DCT (OpenCV's
reduced modes) when the result is scaled down anyway.

Re-encoding with OpenCV writes a bare JPEG: EXIF (GPS position, camera serial) and any
trailing payload are dropped. When the citizen consents to sharing the photo's location, the
GPS block alone (EXIF GPS IFD, read with Pillow) is copied into a fresh EXIF segment of the
re-encoded JPEG; nothing else of the original metadata survives.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from dataclasses import dataclass
from typing import Any, Final, Protocol

import cv2
import numpy as np

from cloud.reports.errors import RefusedError

logger = logging.getLogger(__name__)

MAGIC: Final[dict[str, tuple[bytes, ...]]] = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
}
GPS_IFD: Final = 0x8825
"""EXIF tag of the GPS sub-directory."""


MAX_PIXELS: Final = 40_000_000
"""Most pixels a photo may have (a 48-megapixel phone photo passes; about 120 MB decoded)."""
REDUCED: Final = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)
"""JPEG decoding at reduced scale: (factor, OpenCV flag), largest first."""


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    """A re-encoded photo."""

    jpeg: bytes
    width: int
    height: int
    location_kept: bool = False


def sniff(data: bytes) -> str | None:
    """The image type by its first bytes (``"jpeg"``, ``"png"``, ``"webp"``), else None."""
    for kind, prefixes in MAGIC.items():
        if data.startswith(prefixes):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def gps_exif(data: bytes) -> bytes | None:
    """An EXIF payload (header + TIFF) holding only the GPS block of ``data``, or None.

    None when the image has no GPS data or Pillow (the ``cloud`` extra) is not installed.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow ships with the cloud extra
        logger.warning("Pillow is not installed: photo location cannot be kept")
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            gps = dict(image.getexif().get_ifd(GPS_IFD))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if not gps:
        return None
    fresh = Image.Exif()
    fresh.get_ifd(GPS_IFD).update(gps)
    payload: bytes = fresh.tobytes()
    return payload


def with_exif(jpeg: bytes, exif_payload: bytes) -> bytes:
    """Insert an APP1 EXIF segment right after the JPEG's start-of-image marker."""
    segment = b"\xff\xe1" + struct.pack(">H", len(exif_payload) + 2) + exif_payload
    return jpeg[:2] + segment + jpeg[2:]


def header_size(data: bytes) -> tuple[int, int]:
    """Width and height from the image's header, without decoding its pixels.

    Raises:
        RefusedError: 400 when the header cannot be read, 413 for an absurd pixel count.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own guard, at twice its pixel limit
        raise RefusedError(413, "photo has too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise RefusedError(400, "photo header could not be read") from None
    return int(width), int(height)


def _decode(data: bytes, kind: str, longer_side: int, max_side: int) -> np.ndarray:
    flag = cv2.IMREAD_COLOR
    if kind == "jpeg":
        flag = next((f for n, f in REDUCED if longer_side // n >= max_side), flag)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    except cv2.error:  # a corrupt stream some decoders report by raising
        image = None
    if image is None:
        raise RefusedError(400, f"photo could not be decoded as {kind}")
    return image


def clean_photo(
    data: bytes,
    max_bytes: int,
    max_side: int = 2560,
    *,
    keep_location: bool = False,
    max_pixels: int = MAX_PIXELS,
) -> CleanPhoto:
    """Check a photo by content and size, then re-encode it as JPEG without metadata.

    Args:
        data: The uploaded bytes.
        max_bytes: Size limit of the upload.
        max_side: Longer side after re-encoding (larger photos are scaled down).
        keep_location: The citizen consents to sharing where the photo was taken: the GPS
            EXIF block (and nothing else) is carried over to the re-encoded JPEG.
        max_pixels: Most pixels accepted, checked from the header before decoding.

    Returns:
        The re-encoded photo.

    Raises:
        RefusedError: Too large in bytes or pixels (413), not an image by content (415), or
            unreadable / undecodable (400).
    """
    if len(data) > max_bytes:
        raise RefusedError(413, f"photo larger than {max_bytes} bytes")
    kind = sniff(data)
    if kind is None:
        raise RefusedError(415, "photo is not a JPEG, PNG or WebP image (checked by content)")
    width, height = header_size(data)
    if width < 1 or height < 1:
        raise RefusedError(400, "photo has no pixels")
    if width * height > max_pixels:
        raise RefusedError(413, f"photo of {width}x{height} pixels exceeds {max_pixels} pixels")
    image = _decode(data, kind, max(width, height), max_side)
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        size = (round(width * scale), round(height * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        height, width = image.shape[:2]
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RefusedError(400, "photo could not be re-encoded")
    jpeg = encoded.tobytes()
    gps = gps_exif(data) if keep_location else None
    if gps is not None:
        jpeg = with_exif(jpeg, gps)
    logger.debug(
        "photo %s re-encoded to %dx%d JPEG (GPS kept: %s)", kind, width, height, gps is not None
    )
    return CleanPhoto(jpeg, width, height, location_kept=gps is not None)


# -- privacy: heads and plates blurred before an operator sees a citizen's photo ----------


class Concealment(Protocol):
    """A photo with heads and plates pixelated, and what was found."""

    @property
    def image(self) -> np.ndarray[Any, Any]:
        """The pixelated photo (BGR)."""

    @property
    def heads(self) -> int:
        """Heads found."""

    @property
    def plates(self) -> int:
        """Number plates found."""

    @property
    def method(self) -> str:
        """The models used, for the audit line."""


class PhotoPrivacy(Protocol):
    """Finds and pixelates heads and plates in a decoded photo.

    The aggregator does not detect anything itself: the implementation, with the project's
    detectors, is ``edge.privacy.photos.DetectorPhotoPrivacy``, handed in by the top layer
    (``traffic_monitor.cli``, the demo) so that ``cloud`` never imports ``edge``.
    """

    def conceal(self, image: np.ndarray[Any, Any]) -> Concealment:
        """Return the photo with every head and plate region pixelated."""
        ...


WHOLE_PHOTO_CELLS: Final = 24
"""Cells across the longer side when the whole photo is pixelated (no privacy detector)."""


@dataclass(frozen=True, slots=True)
class RedactedPhoto:
    """A photo with heads and plates pixelated, and what was found."""

    jpeg: bytes
    heads: int
    plates: int
    method: str


class PhotoRedactor:
    """Blurs heads and number plates in report photos, offline.

    Args:
        privacy: Finds and pixelates heads and plates. None (no detector wired in): the
            whole photo is pixelated, the safe side, and ``method`` says so.
    """

    def __init__(self, privacy: PhotoPrivacy | None = None) -> None:
        self.privacy = privacy
        if privacy is None:
            logger.warning("photo privacy: no detector wired in; whole photos are pixelated")

    def redact(self, jpeg: bytes) -> RedactedPhoto:
        """Return the photo with every head and plate region pixelated.

        Raises:
            RefusedError: 400 when the stored photo cannot be decoded.
        """
        image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise RefusedError(400, "stored photo could not be decoded")
        if self.privacy is None:
            blurred, heads, plates, method = pixelate_whole(image), 0, 0, "whole-photo"
        else:
            found = self.privacy.conceal(image)
            blurred, heads, plates, method = found.image, found.heads, found.plates, found.method
        ok, encoded = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:  # pragma: no cover - encoding a decoded image does not fail
            raise RefusedError(400, "photo could not be re-encoded")
        logger.info("photo redacted: %d heads, %d plates (%s)", heads, plates, method)
        return RedactedPhoto(encoded.tobytes(), heads, plates, method)


def pixelate_whole(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The whole photo in coarse cells (:data:`WHOLE_PHOTO_CELLS` across its longer side)."""
    height, width = image.shape[:2]
    scale = WHOLE_PHOTO_CELLS / max(height, width)
    small = cv2.resize(
        image,
        (max(round(width * scale), 1), max(round(height * scale), 1)),
        interpolation=cv2.INTER_AREA,
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
