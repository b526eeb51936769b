"""The report intake: validation, rate limit, classification, duplicates, evidence, reply."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import (
    TICKET_STATUSES,
    EventRecord,
    ReportContact,
    ReportMedia,
    ReportTicket,
    SnapshotRecord,
)
from cloud.reports.classify import (
    Category,
    Classification,
    EmergencyKind,
    Urgency,
    classify,
    emergency_numbers,
)
from cloud.reports.compose import CATEGORY_NAMES, HANDLING, compose_reply
from cloud.reports.correlate import (
    EARTH_RADIUS_M,
    CameraSite,
    check_coordinates,
    haversine_m,
    matching_event_types,
    nearby_cameras,
    recent_events,
)
from cloud.reports.directory import CameraLookup, fixed_cameras
from cloud.reports.dispatch import Dispatcher, DispatchJob, DispatchTarget, Poster, post_json
from cloud.reports.duplicates import SimilarityCache, same_incident
from cloud.reports.errors import RefusedError
from cloud.reports.model import default_model
from cloud.reports.open311 import RequestCreated, Service, ServiceRequest
from cloud.reports.photos import CleanPhoto, clean_photo
from cloud.reports.views import ContactView, EvidenceView, ReportView
from cloud.services.ratelimit import SharedLimits, per_window

logger = logging.getLogger(__name__)


SERVICE_CODE_CONFIDENCE = 0.6
"""Below this confidence in ``other``, a citizen's chosen category is taken instead."""

MAX_DUPLICATE_CANDIDATES = 50
"""Bound of the rows examined per duplicate check (oldest first: the ticket to link to)."""

# The intake's statements, built once (per report only parameters change): building a
# statement costs more than running it on SQLite (profiled: ~1 ms per ORM query).
_DUPLICATE_CANDIDATES = (
    select(
        ReportTicket.id,
        ReportTicket.lat,
        ReportTicket.lon,
        ReportTicket.subtype,
        ReportTicket.description,
    )
    .where(ReportTicket.category == bindparam("category"))
    .where(ReportTicket.requested_at >= bindparam("since"))
    .where(ReportTicket.duplicate_of.is_(None))
    .where(ReportTicket.status != "closed")  # open or confirmed by an operator
    .where(ReportTicket.lat.between(bindparam("lat_min"), bindparam("lat_max")))
    .where(ReportTicket.lon.between(bindparam("lon_min"), bindparam("lon_max")))
    .order_by(ReportTicket.requested_at)
    .limit(MAX_DUPLICATE_CANDIDATES)
)
_TICKETS = cast(Table, ReportTicket.__table__)
_INSERT_TICKET = insert(_TICKETS).returning(_TICKETS.c.id)
_SET_REPLY = (
    update(_TICKETS)
    .where(_TICKETS.c.id == bindparam("row_id"))
    .values(reply=bindparam("reply"), evidence_event_ids=bindparam("cited"))
)


class ReportsConfig(BaseModel):
    """Limits and policies of the intake."""

    model_config = ConfigDict(extra="forbid")

    ticket_prefix: str = Field(default="PA-", description="Prefix of ticket numbers.")
    max_description_chars: int = Field(default=4000, gt=0, description="Longest text accepted.")
    min_description_chars: int = Field(default=3, ge=1, description="Shortest text accepted.")
    max_photo_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="Photo size limit.")
    camera_radius_m: float = Field(default=300.0, gt=0, description="Camera search radius.")
    evidence_window_min: float = Field(default=30.0, gt=0, description="Event look-back.")
    duplicate_radius_m: float = Field(
        default=150.0, gt=0, description="Same kind this close counts as the same incident."
    )
    duplicate_window_min: float = Field(
        default=15.0, gt=0, description="…and this recent (minutes)."
    )
    rate_limit: int = Field(default=10, gt=0, description="Reports per client per window.")
    rate_window_s: float = Field(default=60.0, gt=0, description="Rate-limit window (seconds).")
    dispatch: dict[str, DispatchTarget] = Field(
        default_factory=dict,
        description="Category → where its tickets are forwarded (none: the operations queue).",
    )

    @field_validator("dispatch")
    @classmethod
    def _known_categories(cls, value: dict[str, DispatchTarget]) -> dict[str, DispatchTarget]:
        unknown = sorted(set(value) - {c.value for c in Category})
        if unknown:
            raise ValueError(f"dispatch: unknown categories {unknown}")
        return value


@dataclass(frozen=True, slots=True)
class Submission:
    """A report as received (strings straight from the form)."""

    client: str
    service_code: str | None
    description: str | None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    photo: bytes | None = None
    location_consent: bool = False


def _coordinate(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise RefusedError(400, f"{name} is not a number: {value[:32]!r}") from None


class ReportsService:
    """Everything the Open311 router does, over a session factory (tables must exist).

    Args:
        sessions: The aggregator's session factory.
        cameras: Camera positions, fixed or looked up in the store.
        config: The intake's limits and dispatch targets.
        now: The clock of report times.
        post: How a ticket is forwarded to a dispatch target.
        limits: The per-client report counters (shared by every server process when their
            storage is Redis); None: this process's memory.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cameras: Mapping[str, CameraSite] | CameraLookup,
        config: ReportsConfig | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        post: Poster = post_json,
        limits: SharedLimits | None = None,
    ) -> None:
        self.config = config or ReportsConfig()
        self._dispatcher = Dispatcher(sessions, post)
        self._similar = SimilarityCache()
        default_model()  # loaded at start-up (a fraction of a second), not on the first report
        self._sessions = sessions
        self._cameras: CameraLookup = (
            fixed_cameras(cameras) if isinstance(cameras, Mapping) else cameras
        )
        self._now = now
        cfg = self.config
        self._limits = limits or SharedLimits()
        self._per_client = per_window(cfg.rate_limit, cfg.rate_window_s)

    def close(self) -> None:
        """Stop the dispatch thread after the tickets already queued (bounded wait)."""
        self._dispatcher.close()

    def wait_dispatched(self) -> None:
        """Block until every queued forwarding has been tried (tests)."""
        self._dispatcher.join()

    def cameras_changed(self) -> None:
        """Re-read camera positions on the next report (after cameras were registered)."""
        invalidate = getattr(self._cameras, "invalidate", None)
        if callable(invalidate):
            invalidate()

    def services(self) -> list[Service]:
        """The report categories as Open311 services."""
        return [
            Service(
                service_code=c.value,
                service_name=CATEGORY_NAMES[c][0],
                description=CATEGORY_NAMES[c][1],
                keywords=c.value.replace("_", " "),
            )
            for c in Category
        ]

    def ticket(self, row_id: int) -> str:
        """Ticket number of a row id."""
        return f"{self.config.ticket_prefix}{row_id:06d}"

    def _row_id(self, ticket: str) -> int | None:
        prefix = self.config.ticket_prefix
        digits = ticket.removeprefix(prefix)
        # ASCII digits only ("²".isdigit() is True, int("²") fails) and below 2**63
        valid = ticket.startswith(prefix) and digits.isascii() and digits.isdigit()
        return int(digits) if valid and len(digits) <= 18 else None

    def _validate(self, sub: Submission) -> tuple[Category, str, float | None, float | None]:
        cfg = self.config
        if not sub.service_code:
            raise RefusedError(400, "service_code is required (see GET services)")
        try:
            category = Category(sub.service_code)
        except ValueError:
            raise RefusedError(400, f"unknown service_code {sub.service_code[:32]!r}") from None
        text = (sub.description or "").strip()
        if len(text) < cfg.min_description_chars:
            raise RefusedError(400, "description is required")
        if len(text) > cfg.max_description_chars:
            raise RefusedError(
                400, f"description longer than {cfg.max_description_chars} characters"
            )
        lat, lon = _coordinate(sub.lat, "lat"), _coordinate(sub.long, "long")
        if (lat is None) != (lon is None):
            raise RefusedError(400, "lat and long must be given together")
        if lat is not None and lon is not None:
            try:
                check_coordinates(lat, lon)
            except ValueError as exc:
                raise RefusedError(400, str(exc)) from None
        elif not (sub.address_string or "").strip():
            raise RefusedError(400, "a location is required: lat and long, or address_string")
        return category, text, lat, lon

    def _duplicate(
        self, session: Session, understood: Classification, lat: float | None, lon: float | None
    ) -> int | None:
        """Row id of an open report of the same incident: close, recent, and of the same meaning.

        Same category, within ``duplicate_radius_m`` and ``duplicate_window_min``, and either
        the same subtype (a fallen tree is not a pothole) or similar wording
        (:func:`cloud.reports.duplicates.same_incident`).
        """
        if lat is None or lon is None:
            return None
        since = self._now() - timedelta(minutes=self.config.duplicate_window_min)
        # bounding box first (index-friendly), exact distance after
        d_lat = math.degrees(self.config.duplicate_radius_m / EARTH_RADIUS_M)
        d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
        candidates = session.connection().execute(
            _DUPLICATE_CANDIDATES,
            {
                "category": understood.category.value,
                "since": since,
                "lat_min": lat - d_lat,
                "lat_max": lat + d_lat,
                "lon_min": lon - d_lon,
                "lon_max": lon + d_lon,
            },
        )
        for row_id, row_lat, row_lon, subtype, description in candidates:
            if row_lat is None or row_lon is None:
                continue
            if haversine_m(lat, lon, row_lat, row_lon) > self.config.duplicate_radius_m:
                continue
            other = self._similar.features(int(row_id), description)
            if same_incident(understood, subtype, other):
                return int(row_id)
        return None

    def submit(self, sub: Submission) -> RequestCreated:
        """Receive one report and reply to it.

        Args:
            sub: The report as received.

        Returns:
            The ticket number and the automatic reply.

        Raises:
            RefusedError: With the 4xx status and the reason.
        """
        category, text, lat, lon = self._validate(sub)
        if not self._limits.hit(self._per_client, "report", sub.client):  # before the photo
            raise RefusedError(429, "too many reports from this client, try again later")
        photo = (
            clean_photo(sub.photo, self.config.max_photo_bytes, keep_location=sub.location_consent)
            if sub.photo
            else None
        )
        understood = classify(text)
        if _says_nothing(understood) and category is not Category.OTHER:
            understood = replace(understood, category=category)
        now = self._now()
        near = (
            nearby_cameras(lat, lon, self._cameras(), self.config.camera_radius_m)
            if lat is not None and lon is not None
            else []
        )
        target = self.config.dispatch.get(understood.category.value)
        with self._sessions() as session:
            # reads first (no write lock held meanwhile), then two small writes, one commit
            duplicate = self._duplicate(session, understood, lat, lon)
            found = recent_events(
                session,
                near,
                understood.category,
                now,
                subtype=understood.subtype,
                window=timedelta(minutes=self.config.evidence_window_min),
            )
            row_id = self._insert(
                session,
                sub,
                understood=understood,
                text=text,
                where=(lat, lon),
                now=now,
                duplicate=duplicate,
                target=target,
            )
            ticket = self.ticket(row_id)
            reply = compose_reply(
                ticket,
                understood,
                near,
                found,
                duplicate_of=self.ticket(duplicate) if duplicate is not None else None,
                dispatch=target,
                can_corroborate=bool(matching_event_types(understood.category, understood.subtype)),
            )
            cited = [str(i) for i in reply.cited_event_ids]
            conn = session.connection()
            conn.execute(_SET_REPLY, {"row_id": row_id, "reply": reply.text, "cited": cited})
            self._store_private(session, row_id, sub, photo)
            session.commit()
        if understood.features is not None:
            self._similar.remember(row_id, understood.features)
        if target is not None:
            payload = _dispatch_payload(
                ticket, understood, sub=sub, text=text, where=(lat, lon), now=now, reply=reply.text
            )
            self._dispatcher.enqueue(DispatchJob(row_id, target, payload))
        logger.info("report %s: %s/%s", ticket, understood.category, understood.urgency)
        return RequestCreated(service_request_id=ticket, service_notice=reply.text)

    @staticmethod
    def _insert(
        session: Session,
        sub: Submission,
        *,
        understood: Classification,
        text: str,
        where: tuple[float | None, float | None],
        now: datetime,
        duplicate: int | None,
        target: DispatchTarget | None,
    ) -> int:
        kinds = ",".join(k.value for k in understood.emergencies) or None
        values: dict[str, object] = {
            "service_code": sub.service_code,
            "category": understood.category.value,
            "urgency": understood.urgency.value,
            "language": understood.language,
            "description": text,
            "lat": where[0],
            "lon": where[1],
            "address": sub.address_string or None,
            "status": "open",
            "reply": "",
            "evidence_event_ids": [],
            "client": sub.client[:64],
            "requested_at": now,
            "updated_at": now,
            "duplicate_of": duplicate,
            "has_media": sub.photo is not None,
            "subtype": understood.subtype,
            "emergency_kinds": kinds,
            "needs_detail": understood.needs_detail,
            "dispatch_target": target.name_en[:64] if target is not None else None,
            "dispatch_status": "pending" if target is not None else None,
        }
        return int(session.connection().execute(_INSERT_TICKET, values).scalar_one())

    @staticmethod
    def _store_private(
        session: Session, ticket_id: int, sub: Submission, photo: CleanPhoto | None
    ) -> None:
        if any((sub.email, sub.first_name, sub.last_name, sub.phone)):
            session.add(
                ReportContact(
                    ticket_id=ticket_id,
                    email=(sub.email or None) and sub.email[:254],
                    first_name=(sub.first_name or None) and sub.first_name[:100],
                    last_name=(sub.last_name or None) and sub.last_name[:100],
                    phone=(sub.phone or None) and sub.phone[:32],
                )
            )
        if photo is not None:
            session.add(
                ReportMedia(
                    ticket_id=ticket_id,
                    content=photo.jpeg,
                    width=photo.width,
                    height=photo.height,
                    location_kept=photo.location_kept,
                )
            )

    def _public(self, row: ReportTicket) -> ServiceRequest:
        category = Category(row.category)
        requested = row.requested_at
        handling = HANDLING[category]
        return ServiceRequest(
            service_request_id=self.ticket(row.id),
            status="closed" if row.status == "closed" else "open",
            status_notes=row.status_notes,
            service_name=CATEGORY_NAMES[category][0],
            service_code=row.service_code,
            description=row.description,
            agency_responsible=handling.handler_vi,
            service_notice=row.reply,
            requested_datetime=requested,
            updated_datetime=row.updated_at,
            expected_datetime=requested + timedelta(minutes=handling.minutes),
            address=row.address,
            lat=row.lat,
            long=row.lon,
            urgency=row.urgency,
            duplicate_of=self.ticket(row.duplicate_of) if row.duplicate_of else None,
            evidence_event_ids=[str(i) for i in row.evidence_event_ids],
        )

    def get(self, ticket: str) -> ServiceRequest:
        """One request by ticket number.

        Raises:
            RefusedError: 404 if there is no such ticket.
        """
        row_id = self._row_id(ticket)
        with self._sessions() as session:
            row = session.get(ReportTicket, row_id) if row_id is not None else None
            if row is None:
                raise RefusedError(404, f"no request {ticket[:32]!r}")
            return self._public(row)

    def search(
        self,
        ids: Sequence[str] = (),
        service_code: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[ServiceRequest]:
        """Requests, newest first, filtered like Open311 ``GET requests``."""
        query = select(ReportTicket).order_by(ReportTicket.requested_at.desc()).limit(limit)
        if ids:
            row_ids = [r for r in (self._row_id(t.strip()) for t in ids) if r is not None]
            query = query.where(ReportTicket.id.in_(row_ids))
        if service_code:
            query = query.where(ReportTicket.service_code == service_code)
        if status:
            query = query.where(ReportTicket.status == status)
        with self._sessions() as session:
            return [self._public(row) for row in session.scalars(query)]

    # -- operator side (the operations view; authorisation and audit are the API's) -------

    def _load(self, session: Session, ticket: str) -> ReportTicket:
        row_id = self._row_id(ticket)
        row = session.get(ReportTicket, row_id) if row_id is not None else None
        if row is None:
            raise RefusedError(404, f"no request {ticket[:32]!r}")
        return row

    def update_status(self, ticket: str, status: str, notes: str | None) -> ServiceRequest:
        """Operator side: change status and answer; seen through ``GET requests/{id}``.

        Args:
            ticket: The ticket number.
            status: ``open``, ``confirmed`` (checked by an operator, still open in Open311)
                or ``closed``.
            notes: The answer to the citizen (Open311 ``status_notes``); None keeps the old one.

        Raises:
            RefusedError: 404 for an unknown ticket, 400 for an unknown status.
        """
        if status not in TICKET_STATUSES:
            allowed = ", ".join(TICKET_STATUSES)
            raise RefusedError(400, f"status must be one of {allowed}, got {status[:16]!r}")
        with self._sessions() as session:
            row = self._load(session, ticket)
            row.status = status
            if notes is not None:
                row.status_notes = notes
            row.updated_at = self._now()
            session.commit()
            return self._public(row)

    def merge(self, ticket: str, into: str, notes: str | None = None) -> ServiceRequest:
        """Operator side: link a report to another ticket of the same incident and close it.

        The report points at the root of ``into`` (never at another duplicate); the answer
        says which ticket it joined unless ``notes`` gives one.

        Raises:
            RefusedError: 404 for an unknown ticket, 400 when merging a ticket into itself.
        """
        with self._sessions() as session:
            row = self._load(session, ticket)
            target = self._load(session, into)
            if target.duplicate_of is not None:
                target = self._load(session, self.ticket(target.duplicate_of))
            if target.id == row.id:
                raise RefusedError(400, "a ticket cannot be merged into itself")
            root = self.ticket(target.id)
            row.duplicate_of = target.id
            row.status = "closed"
            row.status_notes = notes or (
                f"Đã gộp vào phiếu {root}." if row.language == "vi" else f"Merged into {root}."
            )
            row.updated_at = self._now()
            session.commit()
            return self._public(row)

    def operator_list(
        self, status: str | None = None, limit: int = 50, with_contact: bool = False
    ) -> list[ReportView]:
        """Reports newest first for the operations view, with their camera evidence."""
        query = select(ReportTicket).order_by(ReportTicket.requested_at.desc()).limit(limit)
        if status:
            query = query.where(ReportTicket.status == status)
        with self._sessions() as session:
            rows = list(session.scalars(query))
            return self._views(session, rows, with_contact)

    def operator_get(self, ticket: str, with_contact: bool = False) -> ReportView:
        """One report for the operations view.

        Raises:
            RefusedError: 404 for an unknown ticket.
        """
        with self._sessions() as session:
            return self._views(session, [self._load(session, ticket)], with_contact)[0]

    def emergencies(self, include_acknowledged: bool = True, limit: int = 100) -> list[ReportView]:
        """Open emergency reports for the operations page: unacknowledged first, newest first.

        Args:
            include_acknowledged: Also list those an operator has acknowledged.
            limit: At most this many.
        """
        query = (
            select(ReportTicket)
            .where(ReportTicket.urgency == Urgency.EMERGENCY.value)
            .where(ReportTicket.status != "closed")
            .order_by(ReportTicket.acknowledged_at.is_not(None), ReportTicket.requested_at.desc())
            .limit(limit)
        )
        if not include_acknowledged:
            query = query.where(ReportTicket.acknowledged_at.is_(None))
        with self._sessions() as session:
            return self._views(session, list(session.scalars(query)), with_contact=False)

    def acknowledge(self, ticket: str, who: str) -> ReportView:
        """An operator has seen an emergency report: the page's alarm stops for it.

        Acknowledging twice keeps the first time and operator.

        Raises:
            RefusedError: 404 for an unknown ticket, 400 when it is not an emergency.
        """
        with self._sessions() as session:
            row = self._load(session, ticket)
            if row.urgency != Urgency.EMERGENCY.value:
                raise RefusedError(400, f"{ticket[:32]} is not an emergency report")
            if row.acknowledged_at is None:
                row.acknowledged_at = self._now()
                row.acknowledged_by = who[:64]
                row.updated_at = row.acknowledged_at
                session.commit()
            return self._views(session, [row], with_contact=False)[0]

    def photo(self, ticket: str) -> bytes:
        """The stored (re-encoded) photo of a report.

        Raises:
            RefusedError: 404 for an unknown ticket or a report without photo.
        """
        with self._sessions() as session:
            row = self._load(session, ticket)
            media = session.get(ReportMedia, row.id)
            if media is None:
                raise RefusedError(404, f"request {ticket[:32]!r} has no photo")
            return media.content

    def _views(
        self, session: Session, rows: Sequence[ReportTicket], with_contact: bool
    ) -> list[ReportView]:
        evidence = _evidence(session, {i for row in rows for i in row.evidence_event_ids})
        contacts: dict[int, ReportContact] = {}
        if with_contact and rows:
            query = select(ReportContact).where(ReportContact.ticket_id.in_([r.id for r in rows]))
            contacts = {c.ticket_id: c for c in session.scalars(query)}
        return [self._view(row, evidence, contacts.get(row.id)) for row in rows]

    def _view(
        self,
        row: ReportTicket,
        evidence: Mapping[str, EvidenceView],
        contact: ReportContact | None,
    ) -> ReportView:
        return ReportView(
            ticket=self.ticket(row.id),
            service_code=row.service_code,
            category=row.category,
            urgency=row.urgency,
            language=row.language,
            status=row.status if row.status in TICKET_STATUSES else "open",  # type: ignore[arg-type]
            status_notes=row.status_notes,
            description=row.description,
            reply=row.reply,
            address=row.address,
            lat=row.lat,
            lon=row.lon,
            requested_at=row.requested_at,
            updated_at=row.updated_at,
            duplicate_of=self.ticket(row.duplicate_of) if row.duplicate_of else None,
            has_media=row.has_media,
            evidence=[evidence[i] for i in row.evidence_event_ids if i in evidence],
            subtype=row.subtype,
            emergency_kinds=[k.value for k in _kinds(row.emergency_kinds)],
            emergency_numbers=list(
                emergency_numbers(_kinds(row.emergency_kinds), _category(row.category))
            ),
            needs_detail=bool(row.needs_detail),
            acknowledged_at=row.acknowledged_at if row.acknowledged_at else None,
            acknowledged_by=row.acknowledged_by,
            dispatch_target=row.dispatch_target,
            dispatch_status=row.dispatch_status,
            contact=ContactView(
                email=contact.email,
                first_name=contact.first_name,
                last_name=contact.last_name,
                phone=contact.phone,
            )
            if contact is not None
            else None,
        )


def _evidence(session: Session, ids: set[str]) -> dict[str, EvidenceView]:
    """The stored events behind cited ids (ids no longer stored are left out)."""
    uuids = []
    for value in ids:
        try:
            uuids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    if not uuids:
        return {}
    with_image = set(
        session.scalars(select(SnapshotRecord.event_id).where(SnapshotRecord.event_id.in_(uuids)))
    )
    out = {}
    for ev in session.scalars(select(EventRecord).where(EventRecord.event_id.in_(uuids))):
        out[str(ev.event_id)] = EvidenceView(
            event_id=ev.event_id,
            camera_id=ev.camera_id,
            type=ev.type,
            severity=ev.severity,
            time=ev.time,
            has_snapshot=ev.event_id in with_image,
        )
    return out


def _says_nothing(understood: Classification) -> bool:
    """The text alone names no category: the citizen's chosen ``service_code`` is used."""
    unsure = understood.needs_detail or understood.confidence < SERVICE_CODE_CONFIDENCE
    return understood.category is Category.OTHER and unsure


def _dispatch_payload(
    ticket: str,
    understood: Classification,
    *,
    sub: Submission,
    text: str,
    where: tuple[float | None, float | None],
    now: datetime,
    reply: str,
) -> dict[str, object]:
    """What a dispatch target receives (no contact details of the citizen)."""
    return {
        "ticket": ticket,
        "category": understood.category.value,
        "subtype": understood.subtype,
        "urgency": understood.urgency.value,
        "emergency_kinds": [k.value for k in understood.emergencies],
        "emergency_numbers": list(understood.emergency_numbers),
        "description": text,
        "lat": where[0],
        "lon": where[1],
        "address": sub.address_string or None,
        "requested_at": now.isoformat(),
        "reply": reply,
    }


def _category(value: str) -> Category:
    try:
        return Category(value)
    except ValueError:
        return Category.OTHER


def _kinds(value: str | None) -> list[EmergencyKind]:
    return [
        EmergencyKind(k)
        for k in (value or "").split(",")
        if k in EmergencyKind.__members__.values()
    ]
