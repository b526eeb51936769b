"""The aggregator's store: idempotent event storage; its tables (re-exported) are in cloud.db."""

from cloud.db import (
    Base,
    CameraRecord,
    DeadLetter,
    EventRecord,
    NodeStatsRecord,
    NodeStatusRecord,
    SnapshotRecord,
)
from cloud.store.store import DEFAULT_URL, Batch, EventStore, Rejected, WriteResult

__all__ = [
    "DEFAULT_URL",
    "Base",
    "Batch",
    "CameraRecord",
    "DeadLetter",
    "EventRecord",
    "EventStore",
    "NodeStatsRecord",
    "NodeStatusRecord",
    "Rejected",
    "SnapshotRecord",
    "WriteResult",
]
