"""Tables of the HTTP API (users, sessions, API keys, alerts, audit) on the store's metadata."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.store.models import Base, Id, UtcDateTime


class Role(StrEnum):
    """Roles, from least to most privileged."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Order of privilege: viewer < operator < admin."""
        return list(Role).index(self)


class AlertState(StrEnum):
    """Workflow of an alert card."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class UserRecord(Base):
    """A person who logs into the operations centre."""

    __tablename__ = "api_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionRecord(Base):
    """A login session; only the SHA-256 of its token is stored."""

    __tablename__ = "api_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("api_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ApiKeyRecord(Base):
    """A key of a machine client; only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[bool] = mapped_column(default=False)


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


class AuditRecord(Base):
    """Who did what to which object, and when (alert changes, evidence views, users)."""

    __tablename__ = "api_audit"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


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


class RedactedPhotoRecord(Base):
    """A report photo with heads and plates pixelated: what operators are shown (made once)."""

    __tablename__ = "api_report_photos_redacted"

    ticket: Mapped[str] = mapped_column(String(32), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    heads: Mapped[int] = mapped_column(Integer)
    plates: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
