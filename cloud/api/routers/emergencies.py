"""Emergency citizen reports for the operations page: on top, with an alarm, until acknowledged.

STAND-IN for the reports branch (issue 25), which owns this API: same paths and field names
as its ``GET /api/reports/emergencies`` and ``POST /api/reports/{ticket}/acknowledge`` (where
the acknowledgement is a column of the ticket). When that branch is merged, delete this file
and its line in ``cloud/api/app.py``; the page needs nothing else.

A report the intake classed as an emergency (injury, fire, people trapped) and not closed is
listed, unacknowledged first, then newest first; here an operator's acknowledgement is the
audit line ``report.acknowledge``, so the page stops its alarm for every operator and the log
says who took it and when.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.accounts import as_utc, audit
from cloud.api.deps import Db, Operator, State, Viewer
from cloud.api.models import AuditRecord
from cloud.reports.errors import RefusedError
from cloud.reports.tables import ReportTicket

router = APIRouter(prefix="/api", tags=["reports"])

ACK_ACTION = "report.acknowledge"
LIMIT = 100


class EmergencyOut(BaseModel):
    """An open emergency report and whether an operator has taken it."""

    model_config = ConfigDict(extra="forbid")

    ticket: str = Field(description="Ticket number.")
    category: str = Field(description="Category understood from the text.")
    urgency: str = Field(description="Always emergency here.")
    status: str = Field(description="open or confirmed (closed reports are not listed).")
    description: str = Field(description="The citizen's text (render as text).")
    address: str | None = Field(description="Address given.")
    lat: float | None = Field(description="Latitude (WGS84).")
    lon: float | None = Field(description="Longitude (WGS84).")
    requested_at: datetime = Field(description="When it was received (UTC).")
    acknowledged_by: str | None = Field(description="Operator who took it (None: alarm on).")
    acknowledged_at: datetime | None = Field(description="When (UTC).")


def _acks(db: Session, tickets: list[str]) -> dict[str, AuditRecord]:
    rows = db.scalars(
        select(AuditRecord)
        .where(AuditRecord.action == ACK_ACTION)
        .where(AuditRecord.target.in_([f"report:{t}" for t in tickets]))
        .order_by(AuditRecord.id)
    )
    first: dict[str, AuditRecord] = {}
    for row in rows:
        first.setdefault(row.target.removeprefix("report:"), row)
    return first


def _open_emergencies(db: Session, state: State) -> list[EmergencyOut]:
    rows = list(
        db.scalars(
            select(ReportTicket)
            .where(ReportTicket.urgency == "emergency", ReportTicket.status != "closed")
            .order_by(ReportTicket.requested_at.desc())
            .limit(LIMIT)
        )
    )
    tickets = [state.reports.ticket(r.id) for r in rows]
    acks = _acks(db, tickets)
    out = []
    for row, ticket in zip(rows, tickets, strict=True):
        ack = acks.get(ticket)
        out.append(
            EmergencyOut(
                ticket=ticket,
                category=row.category,
                urgency=row.urgency,
                status=row.status,
                description=row.description,
                address=row.address,
                lat=row.lat,
                lon=row.lon,
                requested_at=as_utc(row.requested_at),
                acknowledged_by=ack.actor if ack else None,
                acknowledged_at=as_utc(ack.time) if ack else None,
            )
        )
    return sorted(out, key=lambda e: e.acknowledged_by is not None)  # stable: newest first kept


@router.get("/reports/emergencies", response_model=list[EmergencyOut])
def list_emergencies(db: Db, state: State, who: Viewer) -> list[EmergencyOut]:
    """Emergency reports not closed, unacknowledged first; those sound the page's alarm."""
    return _open_emergencies(db, state)


@router.post("/reports/{ticket}/acknowledge", response_model=EmergencyOut)
def acknowledge_emergency(ticket: str, db: Db, state: State, who: Operator) -> EmergencyOut:
    """An operator takes an emergency report (stops the alarm); audited; 404 when unknown."""
    try:
        view = state.reports.operator_get(ticket)
    except RefusedError as exc:
        raise HTTPException(exc.status, exc.reason) from exc
    if view.urgency != "emergency":
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"{ticket[:32]} is not an emergency report"
        )
    if ticket not in _acks(db, [ticket]):
        audit(db, who.name, ACK_ACTION, f"report:{ticket}", "emergency taken")
        db.commit()
    for item in _open_emergencies(db, state):
        if item.ticket == ticket:
            return item
    raise HTTPException(status.HTTP_409_CONFLICT, "the report is closed")
