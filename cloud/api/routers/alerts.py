"""Alert cards and their workflow (acknowledge, resolve, dismiss), all audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import select

from cloud.api.alerts import TRANSITIONS, TransitionError, transition
from cloud.api.deps import Db, Operator, Viewer
from cloud.api.routers.schemas import ActionIn, AlertOut, AuditOut
from cloud.db import AlertRecord, AlertState, AuditRecord

router = APIRouter(prefix="/api/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id.")]
"""An alert id: a positive 64-bit integer (a larger one is a 422, not a database error)."""


def alert_out(record: AlertRecord) -> AlertOut:
    """Convert a stored alert to its response body (times in UTC)."""
    return AlertOut.model_validate(record)


@router.get("", response_model=list[AlertOut])
def list_alerts(
    *,
    db: Db,
    who: Viewer,
    alert_state: Annotated[list[AlertState] | None, Query(alias="state")] = None,
    camera_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    """List alerts, latest first (cards are made at ingest: this only reads)."""
    stmt = select(AlertRecord)
    if alert_state:
        stmt = stmt.where(AlertRecord.state.in_([s.value for s in alert_state]))
    if camera_id is not None:
        stmt = stmt.where(AlertRecord.camera_id == camera_id)
    stmt = stmt.order_by(AlertRecord.last_time.desc(), AlertRecord.id.desc()).limit(limit)
    return [alert_out(r) for r in db.scalars(stmt)]


def _get(db: Db, alert_id: AlertId) -> AlertRecord:
    record = db.get(AlertRecord, alert_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return record


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: AlertId, db: Db, who: Viewer) -> AlertOut:
    """Return one alert."""
    return alert_out(_get(db, alert_id))


@router.post("/{alert_id}/{action}", response_model=AlertOut)
def act(alert_id: AlertId, action: str, body: ActionIn, db: Db, who: Operator) -> AlertOut:
    """Acknowledge, resolve or dismiss (false positive, kept) an alert; 409 when not allowed."""
    if action not in TRANSITIONS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown action")
    record = _get(db, alert_id)
    try:
        transition(db, record, action, who, body.note)
    except TransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    db.commit()
    return alert_out(record)


@router.get("/{alert_id}/audit", response_model=list[AuditOut])
def alert_audit(alert_id: AlertId, db: Db, who: Viewer) -> list[AuditOut]:
    """Return the audit lines of one alert, oldest first."""
    _get(db, alert_id)
    rows = db.scalars(
        select(AuditRecord)
        .where(AuditRecord.target == f"alert:{alert_id}")
        .order_by(AuditRecord.id)
    )
    return [AuditOut.model_validate(r) for r in rows]
