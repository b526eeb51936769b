"""Tables of the alert cards: cards, which events they group, their sequence, false alarms."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, Id, UtcDateTime


class AlertState(StrEnum):
    """Workflow of an alert card."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class AlertRecord(Base):
    """One alert card: similar events of one camera and rule grouped within a window."""

    __tablename__ = "api_alerts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=AlertState.NEW.value)
    first_time: Mapped[datetime] = mapped_column(UtcDateTime)
    last_time: Mapped[datetime] = mapped_column(UtcDateTime)
    event_count: Mapped[int] = mapped_column(Integer, default=1)
    latest_event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    updated_seq: Mapped[int] = mapped_column(Integer, default=0, index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_api_alerts_group", "camera_id", "rule", "type", "last_time"),)


class AlertEventRecord(Base):
    """Which alert an event was grouped into (each alertable event once)."""

    __tablename__ = "api_alert_events"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("api_alerts.id", ondelete="CASCADE"))


class CounterRecord(Base):
    """Named monotonic counters (the alert change sequence that the live stream follows)."""

    __tablename__ = "api_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class FalseAlarmRecord(Base):
    """Why an operator marked an alert a false alarm (read back to tune the rules)."""

    __tablename__ = "api_false_alarms"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("api_alerts.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(32), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    site_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(128), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    time: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
