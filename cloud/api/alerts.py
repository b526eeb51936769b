"""Alerts: events at or above a severity, grouped per camera and rule, with a workflow."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.accounts import Principal, as_utc, audit, utcnow
from cloud.api.models import AlertEventRecord, AlertRecord, AlertState, CounterRecord
from cloud.store.models import EventRecord
from traffic_monitor.contract import Severity

logger = logging.getLogger(__name__)

SEQ_COUNTER = "alert_seq"
SYNC_BATCH = 500
_sync_lock = threading.Lock()

TRANSITIONS: dict[str, tuple[set[AlertState], AlertState]] = {
    "acknowledge": ({AlertState.NEW}, AlertState.ACKNOWLEDGED),
    "resolve": ({AlertState.NEW, AlertState.ACKNOWLEDGED}, AlertState.RESOLVED),
    "dismiss": ({AlertState.NEW, AlertState.ACKNOWLEDGED}, AlertState.DISMISSED),
}
"""Action name -> (states it may start from, state it leads to)."""


class TransitionError(ValueError):
    """An alert action that its current state does not allow."""


def severities_at_least(minimum: str) -> list[str]:
    """Return the severity names at or above ``minimum``."""
    order = list(Severity)
    return [s.value for s in order[order.index(Severity(minimum)) :]]


def next_seq(session: Session) -> int:
    """Increment and return the alert change sequence (the live stream's cursor)."""
    counter = session.get(CounterRecord, SEQ_COUNTER, with_for_update=True)
    if counter is None:
        counter = CounterRecord(name=SEQ_COUNTER, value=0)
        session.add(counter)
    counter.value += 1
    session.flush()
    return counter.value


def current_seq(session: Session) -> int:
    """Return the latest alert change sequence number (0 when none)."""
    counter = session.get(CounterRecord, SEQ_COUNTER)
    return 0 if counter is None else counter.value


def sync_alerts(session: Session, min_severity: str, window_s: int) -> int:
    """Turn new alertable events into alerts (grouping similar ones); return how many.

    Safe to call from several threads of one process; a concurrent writer in another
    process makes this call give up (and the next call retry).
    """
    with _sync_lock:
        try:
            count = _sync(session, min_severity, window_s)
            session.commit()
        except IntegrityError:
            session.rollback()
            logger.warning("alert sync raced with another process; retrying on next call")
            return 0
    return count


def _sync(session: Session, min_severity: str, window_s: int) -> int:
    events = session.scalars(
        select(EventRecord)
        .outerjoin(AlertEventRecord, AlertEventRecord.event_id == EventRecord.event_id)
        .where(
            AlertEventRecord.event_id.is_(None),
            EventRecord.severity.in_(severities_at_least(min_severity)),
        )
        .order_by(EventRecord.time, EventRecord.event_id)
        .limit(SYNC_BATCH)
    ).all()
    for ev in events:
        alert = _open_group(session, ev, window_s)
        time = as_utc(ev.time)
        if alert is None:
            alert = AlertRecord(
                site_id=ev.site_id,
                camera_id=ev.camera_id,
                type=ev.type,
                rule=ev.rule,
                severity=ev.severity,
                state=AlertState.NEW.value,
                first_time=time,
                last_time=time,
                event_count=0,
                latest_event_id=ev.event_id,
            )
            session.add(alert)
            session.flush()
        alert.event_count += 1
        if time >= as_utc(alert.last_time):
            alert.last_time = time
            alert.latest_event_id = ev.event_id
        order = list(Severity)
        if order.index(Severity(ev.severity)) > order.index(Severity(alert.severity)):
            alert.severity = ev.severity
        alert.updated_seq = next_seq(session)
        session.add(AlertEventRecord(event_id=ev.event_id, alert_id=alert.id))
        session.flush()
    return len(events)


def _open_group(session: Session, ev: EventRecord, window_s: int) -> AlertRecord | None:
    """Return the still-open alert of the same camera, rule and type within the window."""
    since = as_utc(ev.time) - timedelta(seconds=window_s)
    return session.scalars(
        select(AlertRecord)
        .where(
            AlertRecord.site_id == ev.site_id,
            AlertRecord.camera_id == ev.camera_id,
            AlertRecord.rule == ev.rule,
            AlertRecord.type == ev.type,
            AlertRecord.state.in_([AlertState.NEW.value, AlertState.ACKNOWLEDGED.value]),
            AlertRecord.last_time >= since,
        )
        .order_by(AlertRecord.last_time.desc())
        .limit(1)
    ).first()


def transition(
    session: Session, alert: AlertRecord, action: str, who: Principal, note: str | None
) -> AlertRecord:
    """Apply a workflow action to an alert and audit it.

    Raises:
        TransitionError: when the action is unknown or not allowed from the current state.
    """
    if action not in TRANSITIONS:
        raise TransitionError(f"unknown action {action!r}")
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
