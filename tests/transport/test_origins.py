"""A node speaks only for its own cameras; images are kept only under their stored event.

Real Mosquitto, real publishers (two nodes), real consumer, SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import select

from cloud.store import CameraRecord, EventStore, SnapshotRecord
from cloud.store.cameras import CameraPosition, upsert_cameras
from edge.pipeline.sink import EvidenceImage, OutgoingEvent
from edge.transport import MqttPublisher
from edge.transport.identity import IdentityError
from tests.events import event_id, make_event
from tests.transport.conftest import Mosquitto, wait_for
from tests.transport.helpers import ingestor, publisher
from traffic_monitor.contract import EventType, SnapshotKind, snapshot_topic

JPEG = b"\xff\xd8\xff\xe0node-01"


def _with_image(index: int, camera: str, node: str, jpeg: bytes = JPEG) -> OutgoingEvent:
    image = EvidenceImage(SnapshotKind.SNAPSHOT, jpeg)
    return OutgoingEvent(
        make_event(EventType.SPEEDING, index=index, camera_id=camera, node_id=node), (image,)
    )


def _raw(port: int) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="raw-node-02", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _cameras(store: EventStore) -> dict[str, str | None]:
    with store.session() as db:
        return {r.camera_id: r.node_id for r in db.scalars(select(CameraRecord))}


def _snapshots(store: EventStore) -> dict[uuid.UUID, tuple[str, str, bytes]]:
    with store.session() as db:
        rows = db.scalars(select(SnapshotRecord)).all()
        return {r.event_id: (r.camera_id, r.node_id, r.content) for r in rows}


def test_a_node_cannot_speak_for_another_nodes_camera(
    broker: Mosquitto, store: EventStore, tmp_path: Path
):
    with store.session() as db:  # cam-1 registered to node-01; cam-2 and cam-3 unknown
        upsert_cameras(db, [CameraPosition(camera_id="cam-1", site_id="hcm-q1", node_id="node-01")])
        db.commit()
    consumer = ingestor(broker.port, store)
    consumer.start()
    one = publisher(broker.port, tmp_path / "one.sqlite3", cameras=("cam-1", "cam-2"))
    two = publisher(broker.port, tmp_path / "two.sqlite3", node="node-02", cameras=("cam-3",))
    raw = _raw(broker.port)
    unknown = uuid.uuid4()
    try:
        for pub in (one, two):
            pub.start()
        wait_for(lambda: consumer.connected and one.connected and two.connected, 10, "clients")
        one.write_many([_with_image(1, "cam-1", "node-01"), _with_image(2, "cam-2", "node-01")])
        assert one.flush(20)  # cam-2 is now bound to node-01 (first node seen)
        forged = b"\xff\xd8\xff\xe0node-02"
        two.write_many(
            [
                _with_image(3, "cam-1", "node-02", forged),  # registered to node-01
                _with_image(4, "cam-2", "node-02", forged),  # bound to node-01 on first sight
                _with_image(5, "cam-3", "node-02", forged),  # its own
            ]
        )
        assert two.flush(20)  # refusals are confirmed too: the node drops them
        # node-02 (no outbox, as an attacker would) sends an image for node-01's event of
        # cam-1 under its own prefix, and one for an event that does not exist.
        for camera, target in (("cam-1", event_id(1)), ("cam-3", unknown)):
            topic = snapshot_topic("hcm-q1", "node-02", camera, target, SnapshotKind.SNAPSHOT)
            raw.publish(topic, forged, qos=1).wait_for_publish(10)
        wait_for(lambda: store.count_dead_letters() >= 4, 20, "4 dead letters")
        # node-02's two refused events and the images that waited for them are dropped
        metrics = two.metrics()
        assert (metrics.queued, metrics.dropped, metrics.sent) == (0, 4, 2)
    finally:
        raw.loop_stop()
        raw.disconnect()
        one.close()
        two.close()
        consumer.stop()
    assert set(store.event_ids()) == {event_id(1), event_id(2), event_id(5)}
    assert store.dead_letter_reasons() == {"camera": 2, "snapshot": 2}
    assert _snapshots(store) == {
        event_id(1): ("cam-1", "node-01", JPEG),  # never replaced by node-02's image
        event_id(2): ("cam-2", "node-01", JPEG),
        event_id(5): ("cam-3", "node-02", forged),
    }
    assert _cameras(store) == {"cam-1": "node-01", "cam-2": "node-01", "cam-3": "node-02"}


def test_the_publisher_never_rewrites_an_events_node(tmp_path: Path):
    pub: MqttPublisher = publisher(1, tmp_path / "o.sqlite3")  # never started
    with pytest.raises(
        IdentityError, match="names hcm-q1/node-02, but this node is hcm-q1/node-01"
    ):
        pub.publish(make_event(EventType.SPEEDING, index=1, node_id="node-02"))
    with pytest.raises(IdentityError, match="names hcm-q2/node-01"):
        pub.write_many([OutgoingEvent(make_event(EventType.SPEEDING, index=2, site_id="hcm-q2"))])
    assert len(pub.outbox) == 0
    pub.close()
