"""The aggregator's database: the declarative base, the UTC timestamp type and every table.

Importing this package registers every table on ``Base.metadata`` (what Alembic compares
against); the schema itself is made and changed only by the migrations
(:mod:`cloud.migrations`, ``traffic-monitor cloud migrate``).
"""

from cloud.db.accounts import ApiKeyRecord, AuditRecord, Role, SessionRecord, UserRecord
from cloud.db.alerts import (
    AlertEventRecord,
    AlertRecord,
    AlertState,
    CounterRecord,
    FalseAlarmRecord,
)
from cloud.db.base import Base, Id, UtcDateTime, to_utc
from cloud.db.cameras import CameraRecord
from cloud.db.ingest import (
    DeadLetter,
    EventRecord,
    NodeStatsRecord,
    NodeStatusRecord,
    SnapshotRecord,
)
from cloud.db.reports import (
    TICKET_STATUSES,
    RedactedPhotoRecord,
    ReportContact,
    ReportMedia,
    ReportTicket,
)

__all__ = [
    "TICKET_STATUSES",
    "AlertEventRecord",
    "AlertRecord",
    "AlertState",
    "ApiKeyRecord",
    "AuditRecord",
    "Base",
    "CameraRecord",
    "CounterRecord",
    "DeadLetter",
    "EventRecord",
    "FalseAlarmRecord",
    "Id",
    "NodeStatsRecord",
    "NodeStatusRecord",
    "RedactedPhotoRecord",
    "ReportContact",
    "ReportMedia",
    "ReportTicket",
    "Role",
    "SessionRecord",
    "SnapshotRecord",
    "UserRecord",
    "UtcDateTime",
    "to_utc",
]
