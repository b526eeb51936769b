"""Edge publisher → real Mosquitto → aggregator consumer → store, on SQLite and PostgreSQL."""

from __future__ import annotations

from cloud.store import EventStore, SnapshotRecord
from edge.pipeline.sink import EventSink, EvidenceImage, OutgoingEvent
from tests.events import event_id, make_event
from tests.transport.conftest import Mosquitto, wait_for
from tests.transport.helpers import ingestor, publisher
from traffic_monitor.contract import EventType, SnapshotKind

JPEG = b"\xff\xd8\xff\xe0fake-jpeg"


def test_events_snapshots_and_status_arrive(broker: Mosquitto, store: EventStore, tmp_path):
    consumer = ingestor(broker.port, store)
    consumer.start()
    pub = publisher(broker.port, tmp_path / "outbox.sqlite3")
    pub.start()
    try:
        wait_for(lambda: consumer.connected and pub.connected, 10, "connections")
        events = [make_event(EventType.SPEEDING, index=i) for i in range(300)]
        pub.publish_many(events[:100])
        for event in events[100:200]:
            pub.publish(event)
        sink: EventSink = pub  # the edge pipeline's sink interface: events with their images
        images = (
            EvidenceImage(SnapshotKind.SNAPSHOT, JPEG + b"s"),
            EvidenceImage(SnapshotKind.CROP, JPEG),
        )
        sink.write_many([OutgoingEvent(events[200], images)])
        sink.write_many([OutgoingEvent(event) for event in events[201:]])
        assert pub.flush(20)  # everything confirmed stored by the aggregator
        wait_for(lambda: store.count_events() == 300, 20, "300 stored events")
        assert sorted(store.event_ids()) == sorted(event_id(i) for i in range(300))
        wait_for(lambda: store.node_status("hcm-q1", "node-01") is not None, 10, "birth")
        status = store.node_status("hcm-q1", "node-01")
        assert status is not None and status.online and status.payload["cameras"] == ["cam-1"]
        with store.session() as session:
            wait_for(
                lambda: session.get(SnapshotRecord, (event_id(200), "crop")) is not None, 10, "crop"
            )
            snapshot = session.get(SnapshotRecord, (event_id(200), "snapshot"))
            assert snapshot is not None and snapshot.content == JPEG + b"s"
            assert snapshot.node_id == "node-01" and snapshot.camera_id == "cam-1"
        metrics = pub.metrics()
        assert (metrics.queued, metrics.sent, metrics.dropped) == (0, 302, 0)  # 300 + 2 images
    finally:
        pub.close()

        def offline() -> bool:
            record = store.node_status("hcm-q1", "node-01")
            return record is not None and not record.online

        wait_for(offline, 10, "offline status")
        consumer.stop()
    assert consumer.metrics.dead_letters == 0


def test_message_the_database_refuses_is_dead_lettered(
    broker: Mosquitto, store: EventStore, tmp_path
):
    """A payload valid by the contract but refused by the database (a track id beyond BIGINT,
    a NUL character that PostgreSQL text cannot hold) must not block the consumer."""
    consumer = ingestor(broker.port, store)
    consumer.start()
    pub = publisher(broker.port, tmp_path / "outbox.sqlite3")
    pub.start()
    poison = [
        make_event(EventType.SPEEDING, index=1000).model_copy(update={"track_id": 2**70}),
        make_event(EventType.SPEEDING, index=1001).model_copy(update={"rule": "nul\x00byte"}),
    ]
    refused = 2 if store.dialect == "postgresql" else 1  # SQLite stores the NUL
    try:
        wait_for(lambda: consumer.connected and pub.connected, 10, "connections")
        pub.publish_many([make_event(EventType.SPEEDING, index=i) for i in range(50)] + poison)
        pub.publish_many([make_event(EventType.SPEEDING, index=i) for i in range(50, 100)])
        assert pub.flush(30)  # the aggregator confirmed all, the poison as refused
        assert pub.metrics().dropped == refused  # the node drops what was dead-lettered
        wait_for(lambda: store.count_events() >= 100 + 2 - refused, 20, "valid events")
        wait_for(lambda: store.count_dead_letters() >= refused, 20, "dead letters")
    finally:
        pub.close()
        consumer.stop()
    assert store.dead_letter_reasons() == {"store": refused}
    assert consumer.reasons == {"store": refused}
    expected = {event_id(i) for i in range(100)}
    if refused == 1:
        expected.add(event_id(1001))
    assert set(store.event_ids()) == expected
