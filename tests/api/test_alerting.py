"""Alert grouping at ingest: once per event whatever the number of groupers, robust to the
rows a store may already hold (events dated year 0001 or 9999 from before the contract's
time bounds)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cloud.db import AlertEventRecord, AlertRecord, EventRecord
from cloud.services.alerting import AlertGrouper, AlertPolicy
from cloud.store.store import Batch
from tests.api.conftest import Backend
from tests.events import T0, at, make_event
from traffic_monitor.contract import Severity


def _cards(b: Backend) -> list[tuple[str, int]]:
    with b.store.session() as db:
        rows = db.execute(select(AlertRecord.camera_id, AlertRecord.event_count)).all()
    return sorted((camera, count) for camera, count in rows)


def test_concurrent_groupers_make_each_card_once(backend: Backend):
    now = datetime.now(UTC)
    events = [make_event(time=at(i % 4), camera_id=f"cam-{i % 5}") for i in range(60)]
    backend.store.write(Batch(events=[(e, now) for e in events]))  # stored, not yet grouped
    groupers = [AlertGrouper(backend.store) for _ in range(3)]
    threads = [threading.Thread(target=g.catch_up) for g in groupers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(g.grouped for g in groupers) == 60
    assert _cards(backend) == [(f"cam-{i}", 12) for i in range(5)]
    with backend.store.session() as db:
        assert db.scalar(select(func.count()).select_from(AlertEventRecord)) == 60
    # a redelivered batch changes nothing
    assert AlertGrouper(backend.store).after_commit(events) == 0
    assert _cards(backend) == [(f"cam-{i}", 12) for i in range(5)]


def _raw_event(time: datetime) -> EventRecord:
    """A row as an older aggregator stored it, before the contract bounded times."""
    return EventRecord(
        event_id=uuid.uuid4(),
        schema_version=1,
        site_id="hcm-q1",
        node_id="node-1",
        camera_id="cam-1",
        type="wrong_way",
        phase="instant",
        severity="high",
        time=time,
        received_at=datetime.now(UTC),
        rule="wrong-way-main",
        payload={},
    )


def test_rows_dated_year_1_and_9999_neither_break_nor_absorb_alerts(sqlite_backend: Backend):
    b = sqlite_backend
    with b.store.session() as db:
        db.add_all(
            [
                _raw_event(datetime(1, 1, 1, tzinfo=UTC)),
                _raw_event(datetime(9999, 12, 31, 23, tzinfo=UTC)),
            ]
        )
        db.commit()
    grouper = AlertGrouper(b.store, AlertPolicy(min_severity=Severity.MEDIUM))
    assert grouper.catch_up() == 2
    b.add_events(make_event(time=T0), make_event(time=at(1)))
    assert _cards(b) == [("cam-1", 1), ("cam-1", 1), ("cam-1", 2)]
    res = b.client.get("/api/alerts", headers=b.login("viewer"))
    assert res.status_code == 200
    # the card dated 9999 sorts first but did not swallow the real ones
    assert [c["event_count"] for c in res.json()] == [1, 2, 1]


def test_event_far_from_an_open_card_opens_another(sqlite_backend: Backend):
    b = sqlite_backend
    b.add_events(make_event(time=T0), make_event(time=at(4)), make_event(time=at(30)))
    late = make_event(time=at(2))  # arrives late, but within the first card's window
    b.add_events(late)
    assert _cards(b) == [("cam-1", 1), ("cam-1", 3)]
    assert timedelta(minutes=30) > timedelta(seconds=AlertPolicy().group_window_s)
