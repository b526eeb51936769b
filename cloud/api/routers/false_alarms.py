"""False alarms with a reason: one click dismisses an alert and keeps why, for rule tuning."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import Alerts, Operator, Viewer
from cloud.api.routers.alerts import alert_out
from cloud.api.routers.schemas import AlertOut
from cloud.services.alerts import FalseAlarm

router = APIRouter(prefix="/api", tags=["alerts"])


class FalseAlarmReason(StrEnum):
    """Why an alert was wrong: each points at a different thing to tune."""

    WRONG_OBJECT = "wrong_object"  # the detector saw something that is not there
    WRONG_CLASS = "wrong_class"  # right object, wrong class (a rider taken for a pedestrian)
    ZONE_GEOMETRY = "zone_geometry"  # the zone, lane or line is drawn wrong
    SPEED_MEASUREMENT = "speed_measurement"  # calibration or tracking gave a wrong speed
    ALLOWED_HERE = "allowed_here"  # the behaviour is allowed at this place or time
    CAMERA_VIEW = "camera_view"  # rain, glare, night, a moved camera
    DUPLICATE = "duplicate"  # the same incident is already on another card
    OTHER = "other"


class FalseAlarmIn(BaseModel):
    """Dismiss an alert as a false alarm."""

    model_config = ConfigDict(extra="forbid")

    alert_id: int = Field(description="The alert.")
    reason: FalseAlarmReason = Field(description="Why it is wrong (kept for rule tuning).")
    note: str | None = Field(default=None, max_length=2000, description="Optional words.")


class FalseAlarmOut(BaseModel):
    """A false alarm as kept for rule tuning."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    alert_id: int = Field(description="The dismissed alert.")
    reason: FalseAlarmReason = Field(description="Why it was wrong.")
    note: str | None = Field(description="The operator's words.")
    site_id: str = Field(description="Site.")
    camera_id: str = Field(description="Camera.")
    type: str = Field(description="Event type of the alert.")
    rule: str = Field(description="Rule that raised it.")
    actor: str = Field(description="Who dismissed it.")
    time: datetime = Field(description="When (UTC).")


@router.post("/false-alarms", response_model=AlertOut)
def mark_false_alarm(body: FalseAlarmIn, alerts: Alerts, who: Operator) -> AlertOut:
    """Dismiss an alert as a false alarm and store the reason; audited; 409 when closed."""
    why = FalseAlarm(body.reason.value, body.note)
    return alert_out(alerts.mark_false_alarm(body.alert_id, why, who))


@router.get("/false-alarms", response_model=list[FalseAlarmOut])
def list_false_alarms(
    *,
    alerts: Alerts,
    who: Viewer,
    rule: str | None = None,
    camera_id: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[FalseAlarmOut]:
    """False alarms newest first, to tune a rule or a camera's zones."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "since needs a UTC offset")
    rows = alerts.false_alarms(rule, camera_id, since, limit)
    return [FalseAlarmOut.model_validate(r) for r in rows]
