"""Report photos for operators: heads and plates pixelated, the original for admins only.

The redaction (:class:`cloud.reports.photos.PhotoRedactor`) runs on a photo's first view and
is kept (``api_report_photos_redacted``), so the intake stays fast and each photo is
analysed once.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.accounts import utcnow
from cloud.db import RedactedPhotoRecord
from cloud.reports.photos import PhotoRedactor, RedactedPhoto

logger = logging.getLogger(__name__)


def redacted_photo(
    db: Session, redactor: PhotoRedactor, ticket: str, original: bytes
) -> RedactedPhoto:
    """The operators' version of a report photo, made and stored on its first view."""
    stored = db.get(RedactedPhotoRecord, ticket)
    if stored is not None:
        return RedactedPhoto(stored.content, stored.heads, stored.plates, stored.method)
    photo = redactor.redact(original)
    try:
        with db.begin_nested():
            db.add(
                RedactedPhotoRecord(
                    ticket=ticket,
                    content=photo.jpeg,
                    heads=photo.heads,
                    plates=photo.plates,
                    method=photo.method,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:  # a second operator opened it at the same moment: same result
        logger.debug("redacted photo of %s stored meanwhile", ticket)
    return photo
