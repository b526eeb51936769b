"""The alert cards as operators use them: read, acknowledge, resolve, dismiss, false alarms.

Alert cards are made where events are committed (:mod:`cloud.services.alerting`); this
service only reads them and changes their state, each change audited.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import AlertRecord, AlertState, AuditRecord, FalseAlarmRecord
from cloud.services.accounts import Principal, audit, utcnow
from cloud.services.alerting import lock_alerts, next_seq
from cloud.services.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)

TRANSITIONS: dict[str, tuple[set[AlertState], AlertState]] = {
    "acknowledge": ({AlertState.NEW}, AlertState.ACKNOWLEDGED),
    "resolve": ({AlertState.NEW, AlertState.ACKNOWLEDGED}, AlertState.RESOLVED),
    "dismiss": ({AlertState.NEW, AlertState.ACKNOWLEDGED}, AlertState.DISMISSED),
}
"""Action name -> (states it may start from, state it leads to)."""


class TransitionError(ConflictError):
    """An alert action that its current state does not allow."""


def transition(
    session: Session, alert: AlertRecord, action: str, who: Principal, note: str | None
) -> AlertRecord:
    """Apply a workflow action to an alert and audit it.

    Raises:
        TransitionError: when the action is unknown or not allowed from the current state.
    """
    if action not in TRANSITIONS:
        raise TransitionError(f"unknown action {action!r}")
    lock_alerts(session)  # the card may be regrouped by the consumer meanwhile
    session.refresh(alert)
    allowed, target = TRANSITIONS[action]
    if AlertState(alert.state) not in allowed:
        raise TransitionError(f"cannot {action} an alert that is {alert.state}")
    now = utcnow()
    if target is AlertState.ACKNOWLEDGED:
        alert.acknowledged_by, alert.acknowledged_at = who.name, now
    else:
        alert.closed_by, alert.closed_at = who.name, now
        if alert.acknowledged_by is None:
            alert.acknowledged_by, alert.acknowledged_at = who.name, now
    alert.note = note if note is not None else alert.note
    previous = alert.state
    alert.state = target.value
    alert.updated_seq = next_seq(session)
    audit(session, who.name, f"alert.{action}", f"alert:{alert.id}", f"{previous}->{target}")
    return alert


@dataclass(frozen=True)
class FalseAlarm:
    """Why an operator dismissed an alert as a false alarm (kept to tune the rules)."""

    reason: str
    note: str | None


class AlertService:
    """Alert cards read and changed on behalf of an operator, on one session.

    Args:
        db: The request's session; the methods that change state commit it.
    """

    def __init__(self, db: Session) -> None:
        self.db = db

    def find(
        self, states: Sequence[AlertState] = (), camera_id: str | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        """Alerts, latest first, in any of ``states`` (all when empty) and of a camera."""
        stmt = select(AlertRecord)
        if states:
            stmt = stmt.where(AlertRecord.state.in_([s.value for s in states]))
        if camera_id is not None:
            stmt = stmt.where(AlertRecord.camera_id == camera_id)
        stmt = stmt.order_by(AlertRecord.last_time.desc(), AlertRecord.id.desc()).limit(limit)
        return list(self.db.scalars(stmt))

    def get(self, alert_id: int) -> AlertRecord:
        """One alert.

        Raises:
            NotFoundError: when there is none with that id.
        """
        record = self.db.get(AlertRecord, alert_id)
        if record is None:
            raise NotFoundError("no such alert")
        return record

    def act(self, alert_id: int, action: str, who: Principal, note: str | None) -> AlertRecord:
        """Apply a workflow action (``TRANSITIONS``), audit it and commit.

        Raises:
            NotFoundError: when the action or the alert is unknown.
            TransitionError: when the alert's state does not allow the action.
        """
        if action not in TRANSITIONS:
            raise NotFoundError("unknown action")
        record = transition(self.db, self.get(alert_id), action, who, note)
        self.db.commit()
        return record

    def history(self, alert_id: int) -> list[AuditRecord]:
        """The audit lines of one alert, oldest first (NotFoundError when it does not exist)."""
        self.get(alert_id)
        return list(
            self.db.scalars(
                select(AuditRecord)
                .where(AuditRecord.target == f"alert:{alert_id}")
                .order_by(AuditRecord.id)
            )
        )

    def mark_false_alarm(self, alert_id: int, why: FalseAlarm, who: Principal) -> AlertRecord:
        """Dismiss an alert as a false alarm, keep the reason, audit it and commit.

        Raises:
            NotFoundError: when the alert does not exist.
            TransitionError: when it is closed already.
        """
        record = transition(self.db, self.get(alert_id), "dismiss", who, why.note)
        self.db.add(
            FalseAlarmRecord(
                alert_id=record.id,
                reason=why.reason,
                note=why.note,
                site_id=record.site_id,
                camera_id=record.camera_id,
                type=record.type,
                rule=record.rule,
                actor=who.name,
                time=utcnow(),
            )
        )
        self.db.commit()
        return record

    def false_alarms(
        self,
        rule: str | None = None,
        camera_id: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[FalseAlarmRecord]:
        """False alarms newest first, of a rule, a camera and since a time (all optional)."""
        stmt = select(FalseAlarmRecord)
        if rule is not None:
            stmt = stmt.where(FalseAlarmRecord.rule == rule)
        if camera_id is not None:
            stmt = stmt.where(FalseAlarmRecord.camera_id == camera_id)
        if since is not None:
            stmt = stmt.where(FalseAlarmRecord.time >= since)
        return list(self.db.scalars(stmt.order_by(FalseAlarmRecord.time.desc()).limit(limit)))
