"""The report intake: validation, rate limit, classification, duplicates, evidence, reply."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.reports.classify import HIGH_URGENCY, Category, Classification, Urgency, classify
from cloud.reports.compose import CATEGORY_NAMES, HANDLING, compose_reply
from cloud.reports.correlate import (
    EARTH_RADIUS_M,
    CameraSite,
    check_coordinates,
    haversine_m,
    nearby_cameras,
    recent_events,
)
from cloud.reports.errors import RefusedError
from cloud.reports.open311 import RequestCreated, Service, ServiceRequest
from cloud.reports.photos import CleanPhoto, clean_photo
from cloud.reports.tables import ReportContact, ReportMedia, ReportTicket

logger = logging.getLogger(__name__)


MAX_DUPLICATE_CANDIDATES = 50
"""Bound of the rows examined per duplicate check (oldest first: the ticket to link to)."""


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
    max_clients_tracked: int = Field(
        default=100_000, gt=0, description="Bound of the rate limiter's table (oldest pruned)."
    )


class RateLimiter:
    """Sliding-window limit per client key, with a bounded table of clients."""

    def __init__(
        self, limit: int, window_s: float, max_clients: int, clock: Callable[[], float]
    ) -> None:
        self._limit = limit
        self._window = window_s
        self._max = max_clients
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, client: str) -> bool:
        """Record one attempt by ``client``; False if over the limit (not recorded then)."""
        now = self._clock()
        hits = self._hits.pop(client, None) or deque()
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        allowed = len(hits) < self._limit
        if allowed:
            hits.append(now)
        self._hits[client] = hits
        while len(self._hits) > self._max:
            self._hits.popitem(last=False)
        return allowed


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


def _coordinate(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise RefusedError(400, f"{name} is not a number: {value[:32]!r}") from None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ReportsService:
    """Everything the Open311 router does, over a session factory (tables must exist)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cameras: Mapping[str, CameraSite],
        config: ReportsConfig | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or ReportsConfig()
        self._sessions = sessions
        self._cameras = dict(cameras)
        self._now = now
        cfg = self.config
        self._limiter = RateLimiter(
            cfg.rate_limit, cfg.rate_window_s, cfg.max_clients_tracked, monotonic
        )

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
        return int(digits) if ticket.startswith(prefix) and digits.isdigit() else None

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
        self, session: Session, category: Category, lat: float | None, lon: float | None
    ) -> ReportTicket | None:
        if lat is None or lon is None:
            return None
        since = self._now() - timedelta(minutes=self.config.duplicate_window_min)
        # bounding box first (index-friendly), exact distance after
        d_lat = math.degrees(self.config.duplicate_radius_m / EARTH_RADIUS_M)
        d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
        candidates = session.scalars(
            select(ReportTicket)
            .where(ReportTicket.category == category.value)
            .where(ReportTicket.requested_at >= since)
            .where(ReportTicket.duplicate_of.is_(None))
            .where(ReportTicket.status == "open")
            .where(ReportTicket.lat.between(lat - d_lat, lat + d_lat))
            .where(ReportTicket.lon.between(lon - d_lon, lon + d_lon))
            .order_by(ReportTicket.requested_at)
            .limit(MAX_DUPLICATE_CANDIDATES)
        )
        for row in candidates:
            if row.lat is None or row.lon is None:
                continue
            if haversine_m(lat, lon, row.lat, row.lon) <= self.config.duplicate_radius_m:
                return row
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
        photo = clean_photo(sub.photo, self.config.max_photo_bytes) if sub.photo else None
        if not self._limiter.allow(sub.client):
            raise RefusedError(429, "too many reports from this client, try again later")
        understood = classify(text)
        if understood.category is Category.OTHER:
            understood = _with_category(understood, category)
        now = self._now()
        with self._sessions() as session:
            duplicate = self._duplicate(session, understood.category, lat, lon)
            row = ReportTicket(
                service_code=category.value,
                category=understood.category.value,
                urgency=understood.urgency.value,
                language=understood.language,
                description=text,
                lat=lat,
                lon=lon,
                address=(sub.address_string or None),
                status="open",
                client=sub.client[:64],
                requested_at=now,
                updated_at=now,
                duplicate_of=duplicate.id if duplicate else None,
                has_media=photo is not None,
            )
            session.add(row)
            session.flush()
            near = (
                nearby_cameras(lat, lon, self._cameras, self.config.camera_radius_m)
                if lat is not None and lon is not None
                else []
            )
            window = timedelta(minutes=self.config.evidence_window_min)
            found = recent_events(session, near, understood.category, now, window=window)
            dup_ticket = self.ticket(duplicate.id) if duplicate else None
            reply = compose_reply(
                self.ticket(row.id), understood, near, found, duplicate_of=dup_ticket
            )
            row.reply = reply.text
            row.evidence_event_ids = [str(i) for i in reply.cited_event_ids]
            self._store_private(session, row.id, sub, photo)
            session.commit()
            ticket = self.ticket(row.id)
        logger.info("report %s: %s/%s", ticket, understood.category, understood.urgency)
        return RequestCreated(service_request_id=ticket, service_notice=reply.text)

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
                )
            )

    def _public(self, row: ReportTicket) -> ServiceRequest:
        category = Category(row.category)
        requested = _utc(row.requested_at)
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
            updated_datetime=_utc(row.updated_at),
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

    def update_status(self, ticket: str, status: str, notes: str | None) -> ServiceRequest:
        """Operator side: change status and answer; seen through ``GET requests/{id}``.

        Raises:
            RefusedError: 404 for an unknown ticket, 400 for an unknown status.
        """
        if status not in {"open", "closed"}:
            raise RefusedError(400, f"status must be open or closed, got {status[:16]!r}")
        row_id = self._row_id(ticket)
        with self._sessions() as session:
            row = session.get(ReportTicket, row_id) if row_id is not None else None
            if row is None:
                raise RefusedError(404, f"no request {ticket[:32]!r}")
            row.status = status
            row.status_notes = notes
            row.updated_at = self._now()
            session.commit()
            return self._public(row)


def _with_category(understood: Classification, category: Category) -> Classification:
    """Use the citizen's chosen category when the text alone says nothing."""
    urgency = understood.urgency
    if urgency is not Urgency.EMERGENCY:
        urgency = Urgency.HIGH if category in HIGH_URGENCY else Urgency.NORMAL
    return replace(understood, category=category, urgency=urgency)
