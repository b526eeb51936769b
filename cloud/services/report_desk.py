"""The operators' desk for citizen reports: each change or photo view audited.

The intake (:class:`cloud.services.reports.ReportsService`) is long-lived and owns its
sessions; a desk is made per request on the request's session, for the audit lines, and
keeps the redacted copies of report photos (made on a photo's first view, so the intake
stays fast and each photo is analysed once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.db import RedactedPhotoRecord
from cloud.reports.open311 import ServiceRequest
from cloud.reports.photos import PhotoRedactor, RedactedPhoto
from cloud.reports.views import ReportView
from cloud.services.accounts import Principal, audit, utcnow
from cloud.services.reports import ReportsService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportPhoto:
    """A report photo as shown: JPEG bytes and what was pixelated ("" for the original)."""

    jpeg: bytes
    redacted: str


class ReportDesk:
    """Operator actions on citizen reports, audited on one session.

    Args:
        db: The request's session (the audit lines; committed by each action).
        reports: The report intake.
        redactor: Pixelates heads and plates of report photos.

    The intake's methods raise :class:`cloud.reports.errors.RefusedError` for unknown tickets
    and refused changes; nothing is audited then.
    """

    def __init__(self, db: Session, reports: ReportsService, redactor: PhotoRedactor) -> None:
        self.db = db
        self.reports = reports
        self.redactor = redactor

    def acknowledge(self, ticket: str, who: Principal) -> ReportView:
        """Acknowledge an emergency report (stops its alarm)."""
        out = self.reports.acknowledge(ticket, who.name)
        self._audit(who, "report.acknowledge", ticket, f"by {out.acknowledged_by}")
        return out

    def set_status(
        self, ticket: str, status: str, notes: str | None, who: Principal
    ) -> ServiceRequest:
        """Confirm, reopen or close a report and answer the citizen."""
        out = self.reports.update_status(ticket, status, notes)
        self._audit(who, "report.status", ticket, f"{status} {notes or ''}")
        return out

    def merge(self, ticket: str, into: str, notes: str | None, who: Principal) -> ServiceRequest:
        """Link a report to another ticket of the same incident (closes it)."""
        out = self.reports.merge(ticket, into, notes)
        self._audit(who, "report.merge", ticket, f"into {out.duplicate_of}")
        return out

    def photo(self, ticket: str, original: bool, who: Principal) -> ReportPhoto:
        """A report's photo: heads and plates pixelated, or the original as received."""
        content = self.reports.photo(ticket)
        if original:
            self._audit(who, "report.photo.view", ticket, "original")
            return ReportPhoto(content, "")
        photo = self._redacted(ticket, content)
        found = f"heads={photo.heads} plates={photo.plates}"
        self._audit(who, "report.photo.view", ticket, f"redacted {found} ({photo.method})")
        return ReportPhoto(photo.jpeg, found)

    def _audit(self, who: Principal, action: str, ticket: str, detail: str) -> None:
        audit(self.db, who.name, action, f"report:{ticket}", detail)
        self.db.commit()

    def _redacted(self, ticket: str, original: bytes) -> RedactedPhoto:
        """The operators' version of a report photo, made and stored on its first view."""
        stored = self.db.get(RedactedPhotoRecord, ticket)
        if stored is not None:
            return RedactedPhoto(stored.content, stored.heads, stored.plates, stored.method)
        photo = self.redactor.redact(original)
        try:
            with self.db.begin_nested():
                self.db.add(
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
