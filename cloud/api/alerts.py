"""The alert workflow: acknowledge, resolve, dismiss, each audited.

Alert cards are made where events are committed (:mod:`cloud.services.alerting`); the HTTP
API only reads them and changes their state.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from cloud.api.accounts import Principal, audit, utcnow
from cloud.db import AlertRecord, AlertState
from cloud.services.alerting import lock_alerts, next_seq

logger = logging.getLogger(__name__)

TRANSITIONS: dict[str, tuple[set[AlertState], AlertState]] = {
    "acknowledge": ({AlertState.NEW}, AlertState.ACKNOWLEDGED),
    "resolve": ({AlertState.NEW, AlertState.ACKNOWLEDGED}, AlertState.RESOLVED),
    "dismiss": ({AlertState.NEW, AlertState.ACKNOWLEDGED}, AlertState.DISMISSED),
}
"""Action name -> (states it may start from, state it leads to)."""


class TransitionError(ValueError):
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
