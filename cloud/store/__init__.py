"""The aggregator's store: SQLAlchemy 2 models and idempotent event storage."""

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
