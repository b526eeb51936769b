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

import functools
import io
import logging
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

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


@dataclass(frozen=True, slots=True)
class PrivacyModel:
    """One detector of the redaction and how far its boxes are trusted."""

    model: str | None
    """Bundled model name, or None for the COCO model (``$TRAFFIC_MONITOR_MODEL`` / shared)."""
    confidence: float
    classes: tuple[str, ...] | None = None
    heads: bool = False
    """True: each box is a head (blurred whole, widened); else edge.privacy's regions."""


PRIVACY_MODELS: Final = (
    # riders with their motorbike, cars, buses, trucks: heads of riders and plates
    PrivacyModel("vn-vehicles", 0.3),
    # riders' heads directly (a rider half hidden, a face close up)
    PrivacyModel("vn-helmet", 0.15, heads=True),
    # pedestrians (the project's road-user model has no person class)
    PrivacyModel(None, 0.15, classes=("person",)),
)
"""Confidence is low for heads on purpose (a needless blur costs little, a missed face is a
breach); vehicles need more (a low-scored false bus box would blur half the photo)."""
HEAD_MARGIN: Final = 0.25
"""Head boxes are widened by this share on each side (hair, chin, ears)."""
TILE_ABOVE: Final = 1.5
"""A photo whose longer side exceeds this many times a model's input is also searched in
2 x 2 overlapping tiles: small faces in a large photo vanish at the model's input size."""


@dataclass(frozen=True, slots=True)
class RedactedPhoto:
    """A photo with heads and plates pixelated, and what was found."""

    jpeg: bytes
    heads: int
    plates: int
    method: str


class PhotoRedactor:
    """Blurs heads and number plates in report photos, offline, with the project's detectors.

    The detectors of :data:`PRIVACY_MODELS` are loaded on first use; one that cannot be
    loaded is skipped (logged). Head and plate regions of road users come from
    :func:`edge.privacy.privacy_regions`. Without any model the whole photo is pixelated (the
    safe side), and ``method`` says so.
    """

    def __init__(self, models: tuple[PrivacyModel, ...] = PRIVACY_MODELS) -> None:
        self._specs = models
        self._lock = threading.Lock()
        self._loaded: list[tuple[PrivacyModel, Any]] | None = None

    def _load(self) -> list[tuple[PrivacyModel, Any]]:
        from edge.detector import Detector, DetectorConfig
        from edge.detector.model import ModelError

        loaded = []
        for spec in self._specs:
            config = DetectorConfig(
                model=Path(spec.model) if spec.model else None,
                confidence=spec.confidence,
                classes=list(spec.classes) if spec.classes else None,
            )
            try:
                loaded.append((spec, Detector(config)))
            except ModelError as exc:
                logger.warning("photo privacy: %s not loaded (%s)", spec.model or "COCO", exc)
        return loaded

    def regions(self, image: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], int, int, str]:
        """Boxes to blur (xyxy), the head and plate counts, and the models used."""
        from edge.privacy import privacy_regions

        parts, methods, heads, plates = [], [], 0, 0
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            for spec, detector in self._loaded:
                found = _detect_tiled(detector, image)
                names = [detector.names[int(c)] for c in found.class_id]
                if spec.heads:
                    parts.append(_widen(found.xyxy.astype(np.float64), HEAD_MARGIN))
                    heads += len(names)
                else:
                    parts.append(privacy_regions(found, detector.names))
                    heads += sum(n in ("person", "motorcycle", "bicycle") for n in names)
                    plates += sum(n in ("motorcycle", "car", "bus", "truck") for n in names)
                methods.append(spec.model or "coco-person")
        if not methods:
            height, width = image.shape[:2]
            return np.array([[0, 0, width, height]], np.float64), 0, 0, "whole-photo"
        return np.concatenate(parts).reshape(-1, 4), heads, plates, "+".join(methods)

    def redact(self, jpeg: bytes) -> RedactedPhoto:
        """Return the photo with every head and plate region pixelated.

        Raises:
            RefusedError: 400 when the stored photo cannot be decoded.
        """
        from edge.privacy import blur_regions

        image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise RefusedError(400, "stored photo could not be decoded")
        boxes, heads, plates, method = self.regions(image)
        cell = max(8, max(image.shape[:2]) // 60)  # coarse enough on a 2560 px photo too
        blurred = blur_regions(image, boxes, cell=cell)
        ok, encoded = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:  # pragma: no cover - encoding a decoded image does not fail
            raise RefusedError(400, "photo could not be re-encoded")
        logger.info("photo redacted: %d heads, %d plates (%s)", heads, plates, method)
        return RedactedPhoto(encoded.tobytes(), heads, plates, method)


@functools.cache
def shared_redactor() -> PhotoRedactor:
    """The process's redactor: its detectors are loaded once, on the first photo viewed."""
    return PhotoRedactor()


def _detect_tiled(detector: Any, image: np.ndarray[Any, Any]) -> Any:
    """Detections on the whole photo, plus on 2 x 2 overlapping tiles of a large one."""
    from edge.detections import Detections

    height, width = image.shape[:2]
    whole = detector.detect_one(image)
    if max(height, width) <= TILE_ABOVE * max(detector.input_size):
        return whole
    tile_h, tile_w = int(height * 0.6), int(width * 0.6)
    origins = [(x, y) for y in (0, height - tile_h) for x in (0, width - tile_w)]
    tiles = [image[y : y + tile_h, x : x + tile_w] for x, y in origins]
    found = [whole]
    for (x, y), dets in zip(origins, detector.detect(tiles), strict=True):
        found.append(dets.shifted(x, y))
    # overlapping boxes of one head are blurred twice: harmless, so no suppression here
    return Detections.merge(found)


def _widen(boxes: np.ndarray[Any, Any], margin: float) -> np.ndarray[Any, Any]:
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    grow = np.stack([-width, -height, width, height], axis=1) * margin
    return (boxes + grow).reshape(-1, 4)
