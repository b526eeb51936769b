"""Alerts at ingest: events grouped into alert cards where they are committed, once.

The aggregator's consumer calls :meth:`AlertGrouper.after_commit` after each committed batch
(``cloud ingest`` and the demo's in-process consumer alike), so alert cards exist whether or
not anyone has the operations page open, and N open pages cost no write at all: the HTTP API
and its live stream only read the cards.

Grouping is serialised across processes: each grouping transaction first writes the alert
sequence row (a row lock on PostgreSQL, the write lock on SQLite), so two consumers never
both open a card for the same group. An event already grouped is never grouped again
(``api_alert_events`` is keyed by event id), so a redelivered batch changes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from cloud.db import AlertEventRecord, AlertRecord, AlertState, CounterRecord, EventRecord
from cloud.store.store import EventStore
from traffic_monitor.contract import Event, Severity

logger = logging.getLogger(__name__)

SEQ_COUNTER = "alert_seq"
"""Name of the counter row: the alert change sequence (the live stream's cursor)."""
BATCH = 500
"""Most events grouped per transaction."""
SEVERITY_ORDER = list(Severity)


class AlertPolicy(BaseModel):
    """Which events become alert cards and how they are grouped."""

    model_config = ConfigDict(extra="forbid")

    min_severity: Severity = Field(
        default=Severity.MEDIUM, description="Events at or above this severity become alerts."
    )
    group_window_s: int = Field(
        default=300,
        ge=0,
        le=86400,
        description="An event joins the open card of its site, camera, rule and type whose "
        "latest event is at most this many seconds away; otherwise it opens a new card.",
    )

    def severities(self) -> list[str]:
        """Severity names at or above ``min_severity``."""
        return [s.value for s in SEVERITY_ORDER[SEVERITY_ORDER.index(self.min_severity) :]]


def next_seq(session: Session) -> int:
    """Increment and return the alert change sequence."""
    return next_seqs(session, 1)


def next_seqs(session: Session, count: int) -> int:
    """Advance the alert change sequence by ``count``; return the first of the new numbers."""
    counter = session.get(CounterRecord, SEQ_COUNTER, with_for_update=True)
    if counter is None:
        counter = CounterRecord(name=SEQ_COUNTER, value=0)
        session.add(counter)
    first = counter.value + 1
    counter.value += count
    session.flush()
    return first


def current_seq(session: Session) -> int:
    """Return the latest alert change sequence number (0 when none)."""
    counter = session.get(CounterRecord, SEQ_COUNTER)
    return 0 if counter is None else counter.value


def lock_alerts(session: Session) -> None:
    """Take the alert writers' lock for the rest of the transaction (see the module doc)."""
    bump = update(CounterRecord).where(CounterRecord.name == SEQ_COUNTER)
    if session.execute(bump.values(value=CounterRecord.value)).rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(CounterRecord(name=SEQ_COUNTER, value=0))
    except IntegrityError:  # another process created it meanwhile: lock that row
        pass
    session.execute(bump.values(value=CounterRecord.value))


def _shift(time: datetime, seconds: float) -> datetime:
    """``time`` moved by ``seconds``, clamped to the representable range (never raises)."""
    try:
        return time + timedelta(seconds=seconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if seconds > 0 else datetime.min.replace(tzinfo=UTC)


def _ungrouped(policy: AlertPolicy) -> Select[EventRecord]:
    return (
        select(EventRecord)
        .outerjoin(AlertEventRecord, AlertEventRecord.event_id == EventRecord.event_id)
        .where(
            AlertEventRecord.event_id.is_(None),
            EventRecord.severity.in_(policy.severities()),
        )
        .order_by(EventRecord.time, EventRecord.event_id)
    )


def _open_group(session: Session, ev: EventRecord, window_s: int) -> AlertRecord | None:
    """The open card of the same site, camera, rule and type near this event.

    Its latest event must lie within the window on either side of this one: a card dated
    far ahead never absorbs later events.
    """
    time = ev.time
    return session.scalars(
        select(AlertRecord)
        .where(
            AlertRecord.site_id == ev.site_id,
            AlertRecord.camera_id == ev.camera_id,
            AlertRecord.rule == ev.rule,
            AlertRecord.type == ev.type,
            AlertRecord.state.in_([AlertState.NEW.value, AlertState.ACKNOWLEDGED.value]),
            AlertRecord.last_time >= _shift(time, -window_s),
            AlertRecord.last_time <= _shift(time, window_s),
        )
        .order_by(AlertRecord.last_time.desc())
        .limit(1)
    ).first()


GroupKey = tuple[str, str, str, str]
"""(site, camera, rule, type): events of one key may share a card."""


def _key(ev: EventRecord) -> GroupKey:
    return (ev.site_id, ev.camera_id, ev.rule, ev.type)


def _near(alert: AlertRecord, time: datetime, window_s: int) -> bool:
    return _shift(time, -window_s) <= alert.last_time <= _shift(time, window_s)


def _new_card(ev: EventRecord, time: datetime) -> AlertRecord:
    return AlertRecord(
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


def group(session: Session, events: Sequence[EventRecord], policy: AlertPolicy) -> int:
    """Add each event to its alert card (opening one when needed); return how many.

    The cards of a batch are looked up once per key and kept while the batch is grouped, and
    the change sequence is advanced once: a batch of 500 alertable events costs a handful of
    statements per card, not per event.
    """
    window = policy.group_window_s
    cards: dict[GroupKey, list[AlertRecord]] = {}
    changed: list[AlertRecord] = []
    for ev in events:
        time = ev.time
        near = [a for a in cards.get(_key(ev), []) if _near(a, time, window)]
        alert = near[-1] if near else _open_group(session, ev, window)
        if alert is None:
            alert = _new_card(ev, time)
            session.add(alert)
            session.flush()  # its id, for the event's link below
        if alert not in cards.setdefault(_key(ev), []):
            cards[_key(ev)].append(alert)
        _add_event(alert, ev, time)
        if alert not in changed:
            changed.append(alert)
        session.add(AlertEventRecord(event_id=ev.event_id, alert_id=alert.id))
    first = next_seqs(session, len(changed))
    for offset, alert in enumerate(changed):
        alert.updated_seq = first + offset
    session.flush()
    return len(events)


def _add_event(alert: AlertRecord, ev: EventRecord, time: datetime) -> None:
    alert.event_count += 1
    if time >= alert.last_time:
        alert.last_time = time
        alert.latest_event_id = ev.event_id
    alert.first_time = min(alert.first_time, time)
    if SEVERITY_ORDER.index(Severity(ev.severity)) > SEVERITY_ORDER.index(Severity(alert.severity)):
        alert.severity = ev.severity


class AlertGrouper:
    """Groups committed events into alert cards; one per consumer process.

    Args:
        store: The aggregator's store.
        policy: Which events alert and how they group.
    """

    def __init__(self, store: EventStore, policy: AlertPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or AlertPolicy()
        self.grouped = 0
        self._behind = True  # events stored before this process started may wait
        self._lock = threading.Lock()

    def after_commit(self, events: Iterable[Event]) -> int:
        """Group the alertable, not yet grouped ones of the committed ``events``; never raises.

        A batch without alertable events costs nothing. After a failure (the database went
        away) the next call first catches up with every ungrouped event, so a failure delays
        alerts but loses none.
        """
        wanted = set(self.policy.severities())
        ids: list[uuid.UUID] = [e.event_id for e in events if e.severity.value in wanted]
        if not ids and not self._behind:
            return 0
        try:
            with self._lock:
                if self._behind:
                    count = self._catch_up()
                    self._behind = False
                else:
                    count = self._run(_ungrouped(self.policy).where(EventRecord.event_id.in_(ids)))
        except SQLAlchemyError:
            self._behind = True
            logger.exception("alert grouping failed; it catches up after the next commit")
            return 0
        self.grouped += count
        return count

    def catch_up(self) -> int:
        """Group every alertable event not grouped yet (at start-up, after a failure)."""
        with self._lock:
            count = self._catch_up()
            self._behind = False
        self.grouped += count
        return count

    def _catch_up(self) -> int:
        total = 0
        while count := self._run(_ungrouped(self.policy).limit(BATCH)):
            total += count
        if total:
            logger.info("grouped %d events that were waiting into alerts", total)
        return total

    def _run(self, candidates: Select[EventRecord]) -> int:
        with self.store.session() as session:
            lock_alerts(session)
            events = session.scalars(candidates).all()
            count = group(session, events, self.policy) if events else 0
            session.commit()
        return count
