"""Response and request bodies of the HTTP API."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cloud.db import Role

UtcTime = AwareDatetime
"""Every time the API returns is aware UTC (the store's ``UtcDateTime`` columns read back so on
SQLite and PostgreSQL alike), so it is written with its offset (``Z``): a browser then shows it
in the operator's zone, never 7 hours off. A naive time here is a bug, refused loudly."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class LoginIn(BaseModel):
    """Credentials of a login."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, description="User name.")
    password: str = Field(min_length=1, max_length=256, description="Password.")


class LoginOut(_Out):
    """A new session: the token also comes as an HttpOnly cookie."""

    token: str = Field(description="Bearer token of the session (shown once).")
    username: str = Field(description="Who logged in.")
    role: Role = Field(description="Role of the user.")
    expires_in_s: int = Field(description="Lifetime of the session in seconds.")


class MeOut(_Out):
    """Who the caller is."""

    name: str = Field(description="User name, or key:NAME for an API key.")
    role: Role = Field(description="Role.")
    kind: str = Field(description="user or api_key.")


class EventOut(_Out):
    """A stored event."""

    event_id: uuid.UUID = Field(description="Unique id.")
    site_id: str = Field(description="Site.")
    node_id: str = Field(description="Edge node.")
    camera_id: str = Field(description="Camera.")
    type: str = Field(description="Event type.")
    phase: str = Field(description="Lifecycle phase.")
    severity: str = Field(description="Severity.")
    time: UtcTime = Field(description="When it happened (UTC).")
    received_at: UtcTime = Field(description="When the aggregator stored it (UTC).")
    rule: str = Field(description="Rule that raised it.")
    object_class: str | None = Field(description="Road-user class.")
    confidence: float | None = Field(description="Confidence.")
    payload: dict[str, Any] = Field(description="The full event message.")


class EventPage(_Out):
    """One page of events, newest first."""

    items: list[EventOut] = Field(description="Events of this page.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class AlertOut(_Out):
    """An alert card."""

    id: int = Field(description="Alert id.")
    site_id: str = Field(description="Site.")
    camera_id: str = Field(description="Camera.")
    type: str = Field(description="Event type.")
    rule: str = Field(description="Rule.")
    severity: str = Field(description="Highest severity of the grouped events.")
    state: str = Field(description="new, acknowledged, resolved or dismissed.")
    first_time: UtcTime = Field(description="First grouped event (UTC).")
    last_time: UtcTime = Field(description="Latest grouped event (UTC).")
    event_count: int = Field(description="How many events the card groups.")
    latest_event_id: uuid.UUID = Field(description="Latest grouped event.")
    updated_seq: int = Field(description="Change sequence number (live stream cursor).")
    acknowledged_by: str | None = Field(description="Who acknowledged.")
    acknowledged_at: UtcTime | None = Field(description="When (UTC).")
    closed_by: str | None = Field(description="Who resolved or dismissed.")
    closed_at: UtcTime | None = Field(description="When (UTC).")
    note: str | None = Field(description="Resolution note.")


class ActionIn(BaseModel):
    """Body of an alert action."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000, description="Optional note.")


class AuditOut(_Out):
    """One audit log line."""

    id: int = Field(description="Sequence.")
    time: UtcTime = Field(description="When (UTC).")
    actor: str = Field(description="Who.")
    action: str = Field(description="What.")
    target: str = Field(description="On which object.")
    detail: str = Field(description="Details.")


class UserIn(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", description="User name.")
    password: str = Field(min_length=10, max_length=256, description="Password.")
    role: Role = Field(description="Role.")


class UserOut(_Out):
    """A user (never the password hash)."""

    id: int = Field(description="User id.")
    username: str = Field(description="User name.")
    role: str = Field(description="Role.")
    active: bool = Field(description="May log in.")


class ApiKeyIn(BaseModel):
    """A new API key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Name of the client.")
    role: Role = Field(description="Role granted to the key.")


class ApiKeyInfo(_Out):
    """An API key as listed (never the key)."""

    name: str = Field(description="Name of the client.")
    role: str = Field(description="Role granted to the key.")
    created_at: UtcTime = Field(description="When it was created (UTC).")
    revoked: bool = Field(description="Revoked keys no longer authenticate.")


class UserChange(BaseModel):
    """A change to a user: deactivate / reactivate, change role."""

    model_config = ConfigDict(extra="forbid")

    active: bool | None = Field(default=None, description="False: may no longer log in.")
    role: Role | None = Field(default=None, description="New role.")


class SessionsEnded(_Out):
    """How many sessions of a user were ended."""

    username: str = Field(description="The user.")
    ended: int = Field(description="Sessions deleted.")


class ApiKeyOut(_Out):
    """A new API key, shown once."""

    name: str = Field(description="Name.")
    role: Role = Field(description="Role.")
    key: str = Field(description="The key; send it as X-API-Key.")


class NodeOut(_Out):
    """Status of an edge node."""

    site_id: str = Field(description="Site.")
    node_id: str = Field(description="Node.")
    state: str = Field(description="online, offline or degraded (no stats lately).")
    last_seen: UtcTime | None = Field(description="Latest status or stats message (UTC).")


class CameraOut(_Out):
    """A camera: registered position (from its scene config) and what the store knows of it."""

    site_id: str = Field(description="Site.")
    camera_id: str = Field(description="Camera.")
    name: str = Field(default="", description="Place name (registered cameras).")
    name_vi: str = Field(default="", description="Vietnamese place name (registered cameras).")
    name_en: str = Field(default="", description="English place name (registered cameras).")
    lat: float | None = Field(default=None, description="Latitude, WGS84 (registered cameras).")
    lon: float | None = Field(default=None, description="Longitude, WGS84.")
    heading_deg: float | None = Field(default=None, description="Compass heading of the view.")
    state: str = Field(
        default="unknown", description="online, offline or degraded (its node), else unknown."
    )
    node_id: str | None = Field(default=None, description="Edge node serving it, if known.")
    events: int = Field(description="Stored events.")
    last_event: UtcTime | None = Field(description="Latest event (UTC).")
    has_snapshot: bool = Field(default=False, description="Whether an evidence image is stored.")


class MapOut(_Out):
    """How the page draws its camera map."""

    tile_url: str | None = Field(
        description="Web-Mercator tile URL with {z}, {x}, {y} (None: a coordinate grid)."
    )
