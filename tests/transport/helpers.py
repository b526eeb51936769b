"""Builders shared by the transport tests."""

from __future__ import annotations

from pathlib import Path

from cloud.ingest import IngestConfig, Ingestor
from cloud.store import EventStore
from edge.transport import MqttConfig, MqttPublisher, SignalStateSink
from traffic_monitor.contract import BrokerConnection


def publisher(
    port: int,
    outbox: Path,
    node: str = "node-01",
    site: str = "hcm-q1",
    signals: SignalStateSink | None = None,
    cameras: tuple[str, ...] = ("cam-1",),
    **kwargs,
) -> MqttPublisher:
    # Resends only when a test asks for them (a loaded machine must not make duplicates).
    settings = {"confirm_timeout_s": 60.0} | kwargs
    config = MqttConfig(
        broker=BrokerConnection(port=port, reconnect_min_s=0.2, reconnect_max_s=1.0),
        site_id=site,
        node_id=node,
        outbox_path=outbox,
        outbox_synchronous="NORMAL",
        **settings,
    )
    return MqttPublisher(config, cameras=list(cameras), model="yolo11n_320", signals=signals)


def ingestor(port: int, store: EventStore, client_id: str = "aggregator-1", **kwargs) -> Ingestor:
    config = IngestConfig(broker=BrokerConnection(port=port), client_id=client_id, **kwargs)
    return Ingestor(config, store=store)
