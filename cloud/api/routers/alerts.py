"""Alert cards and their workflow (acknowledge, resolve, dismiss), all audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud.api.deps import Alerts, Operator, Viewer
from cloud.api.routers.schemas import ActionIn, AlertOut, AuditOut
from cloud.db import AlertRecord, AlertState

router = APIRouter(prefix="/api/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id.")]
"""An alert id: a positive 64-bit integer (a larger one is a 422, not a database error)."""


def alert_out(record: AlertRecord) -> AlertOut:
    """Convert a stored alert to its response body."""
    return AlertOut.model_validate(record)


@router.get("", response_model=list[AlertOut])
def list_alerts(
    *,
    alerts: Alerts,
    who: Viewer,
    alert_state: Annotated[list[AlertState] | None, Query(alias="state")] = None,
    camera_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    """List alerts, latest first (cards are made at ingest: this only reads)."""
    return [alert_out(r) for r in alerts.find(alert_state or (), camera_id, limit)]


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: AlertId, alerts: Alerts, who: Viewer) -> AlertOut:
    """Return one alert."""
    return alert_out(alerts.get(alert_id))


@router.post("/{alert_id}/{action}", response_model=AlertOut)
def act(alert_id: AlertId, action: str, body: ActionIn, alerts: Alerts, who: Operator) -> AlertOut:
    """Acknowledge, resolve or dismiss (false positive, kept) an alert; 409 when not allowed."""
    return alert_out(alerts.act(alert_id, action, who, body.note))


@router.get("/{alert_id}/audit", response_model=list[AuditOut])
def alert_audit(alert_id: AlertId, alerts: Alerts, who: Viewer) -> list[AuditOut]:
    """Return the audit lines of one alert, oldest first."""
    return [AuditOut.model_validate(r) for r in alerts.history(alert_id)]
