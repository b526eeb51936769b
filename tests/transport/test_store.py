"""Idempotent storage, dead letters and node status, on SQLite and on PostgreSQL."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from cloud.ingest import IngestConfig, Ingestor, classify
from cloud.migrations import UnmigratedDatabaseError, require_current, upgrade
from cloud.store import Batch, EventRecord, EventStore
from cloud.store.store import EVENT_COLUMNS
from tests.events import event_id, make_event
from traffic_monitor.contract import (
    SCHEMA_VERSION,
    Event,
    EventType,
    NodeStatus,
    Severity,
    encode,
    event_from_dict,
    event_topic,
    status_topic,
)


@functools.cache
def _event(index: int) -> Event:
    """One event per index: a redelivery carries the same content (a new one is a conflict)."""
    return make_event(EventType.SPEEDING, index=index)


def _batch(*indices: int) -> Batch:
    now = datetime.now(UTC)
    return Batch(events=[(_event(i), now) for i in indices])


def test_events_stored_once(store: EventStore):
    first = store.write(_batch(1, 2, 3))
    assert (first.inserted, first.duplicates) == (3, 0)
    again = store.write(_batch(2, 3, 4, 4))
    assert (again.inserted, again.duplicates) == (1, 3)
    assert store.count_events() == 4
    assert sorted(store.event_ids()) == sorted(event_id(i) for i in (1, 2, 3, 4))


def test_classified_messages_and_dead_letters(store: EventStore):
    batch = Batch()
    now = datetime.now(UTC)
    good = make_event(EventType.SPEEDING, index=7)
    topic = event_topic(good.site_id, good.node_id, good.camera_id, good.type.value)
    assert classify(topic, encode(good), now, batch) is None
    wrong_node = event_topic(good.site_id, "node-99", good.camera_id, good.type.value)
    assert str(classify(wrong_node, encode(good), now, batch)).startswith("mismatch")
    assert str(classify(topic, b"\xff" * 10, now, batch)).startswith("ContractError")
    result = store.write(batch)
    assert (result.inserted, result.dead_letters) == (1, 2)
    assert store.dead_letter_reasons() == {"mismatch": 1, "ContractError": 1}


def test_node_status_keeps_latest(store: EventStore):
    now = datetime.now(UTC)
    online = NodeStatus(site_id="s", node_id="n", online=True, time=now)
    stale = NodeStatus(site_id="s", node_id="n", online=False, time=now - timedelta(minutes=1))
    batch = Batch()
    classify(status_topic("s", "n"), encode(online), now, batch)
    store.write(batch)
    store.write(Batch(statuses=[(stale, now)]))
    record = store.node_status("s", "n")
    assert record is not None and record.online is True
    later = NodeStatus(site_id="s", node_id="n", online=False, time=now + timedelta(seconds=1))
    store.write(Batch(statuses=[(later, now)]))
    record = store.node_status("s", "n")
    assert record is not None and record.online is False


def test_bulk_insert_names_every_event_column():
    assert set(EVENT_COLUMNS) == {column.name for column in EventRecord.__table__.columns}


def test_stored_rows_match_the_events(store: EventStore):
    sparse = Event.of(camera_id="cam-2", type=EventType.COUNT, site_id="s", node_id="n")
    events = [
        make_event(EventType.SPEEDING, index=1),
        make_event(EventType.SPEEDING, index=2, severity=Severity.LOW),
        sparse,
    ]
    received = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    store.write(Batch(events=[(event, received) for event in events]))
    with store.session() as session:
        records = {r.event_id: r for r in session.query(EventRecord).all()}
    for event in events:
        record = records[event.event_id]
        assert event_from_dict(record.payload) == event
        assert (record.site_id, record.node_id, record.camera_id) == (
            event.site_id,
            event.node_id,
            event.camera_id,
        )
        assert (record.type, record.severity, record.phase) == (
            event.type.value,
            event.severity.value,
            event.phase.value,
        )
        assert (record.track_id, record.object_class, record.confidence) == (
            event.track_id,
            event.object_class,
            event.confidence,
        )
        # the bulk insert goes through the UtcDateTime type: aware UTC back on both databases
        assert (record.time, record.received_at) == (event.time, received)
        assert record.time.tzinfo is UTC and record.received_at.tzinfo is UTC
        assert (record.schema_version, record.rule) == (SCHEMA_VERSION, event.rule)


def test_ingestor_refuses_an_unmigrated_database(tmp_path):
    """``cloud ingest`` never makes tables: it names the command that does, and stores nothing."""
    store = EventStore(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    ingestor = Ingestor(
        IngestConfig.model_validate({"port": 1, "client_id": "agg-unmigrated"}), store=store
    )
    with pytest.raises(UnmigratedDatabaseError) as refused:
        ingestor.start()
    message = str(refused.value)
    assert "never migrated" in message
    assert "traffic-monitor cloud migrate --database-url" in message
    with store.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    store.dispose()


def test_ingestor_refuses_a_database_behind_the_latest_migration(tmp_path):
    store = EventStore(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(store, "0002")
    with pytest.raises(UnmigratedDatabaseError, match="found 0002"):
        require_current(store)
    upgrade(store)
    require_current(store)  # at head: accepted
    store.dispose()
