"""Tables of the citizen reports: tickets, contacts, photos and their redacted copies.

Contact details live in their own table, joined only for operators; photos in another, after
re-encoding (see :mod:`cloud.reports.photos`); operators see the redacted copy, made on a
photo's first view (:mod:`cloud.services.report_desk`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, Id, UtcDateTime

TICKET_STATUSES = ("open", "confirmed", "closed")
"""Internal statuses: ``confirmed`` (an operator checked it) is still ``open`` in Open311."""


class ReportTicket(Base):
    """One citizen report and what the service did with it."""

    __tablename__ = "report_tickets"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    service_code: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="open")
    status_notes: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text, default="")
    evidence_event_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("report_tickets.id"))
    client: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    has_media: Mapped[bool] = mapped_column(default=False)
    subtype: Mapped[str | None] = mapped_column(String(32))
    emergency_kinds: Mapped[str | None] = mapped_column(String(64))
    """Comma-separated :class:`~cloud.reports.classify.EmergencyKind` values (None: none)."""
    needs_detail: Mapped[bool | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    dispatch_target: Mapped[str | None] = mapped_column(String(64))
    dispatch_status: Mapped[str | None] = mapped_column(String(16))
    """``pending``, ``sent`` or ``failed`` when a dispatch target is configured; else None."""
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_report_tickets_category_time", "category", "requested_at"),
        Index("ix_report_tickets_urgency_status", "urgency", "status"),
    )


class ReportContact(Base):
    """Contact details of a reporter: shown to operators only."""

    __tablename__ = "report_contacts"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("report_tickets.id"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))


class ReportMedia(Base):
    """A report's photo, re-encoded as JPEG; only GPS EXIF survives, and only with consent."""

    __tablename__ = "report_media"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("report_tickets.id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    location_kept: Mapped[bool] = mapped_column(default=False)


class RedactedPhotoRecord(Base):
    """A report photo with heads and plates pixelated: what operators are shown (made once)."""

    __tablename__ = "api_report_photos_redacted"

    ticket: Mapped[str] = mapped_column(String(32), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    heads: Mapped[int] = mapped_column(Integer)
    plates: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
