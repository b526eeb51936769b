"""What operators see of a report (the operations view), and what they may change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OperatorStatus = Literal["open", "confirmed", "closed"]


class EvidenceView(BaseModel):
    """A stored camera event a reply cited (read from the store, never from the reply)."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(description="The stored event.")
    camera_id: str = Field(description="Camera that recorded it.")
    type: str = Field(description="Event type.")
    severity: str = Field(description="Severity.")
    time: datetime = Field(description="When it happened (UTC).")
    has_snapshot: bool = Field(description="Whether an evidence image is stored.")


class ContactView(BaseModel):
    """The reporter's contact details (operators and admins only)."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(description="E-mail address.")
    first_name: str | None = Field(description="First name.")
    last_name: str | None = Field(description="Last name.")
    phone: str | None = Field(description="Phone number.")


class ReportView(BaseModel):
    """One report as the operations view lists it (text fields are verbatim: render as text)."""

    model_config = ConfigDict(extra="forbid")

    ticket: str = Field(description="Ticket number.")
    service_code: str = Field(description="Category the citizen chose.")
    category: str = Field(description="Category understood from the text.")
    urgency: str = Field(description="emergency, high or normal.")
    language: str = Field(description="Language of the report (vi or en).")
    status: OperatorStatus = Field(description="open, confirmed (checked) or closed.")
    status_notes: str | None = Field(description="The operator's answer to the citizen.")
    description: str = Field(description="The citizen's text.")
    reply: str = Field(description="The automatic reply.")
    address: str | None = Field(description="Address given.")
    lat: float | None = Field(description="Latitude (WGS84).")
    lon: float | None = Field(description="Longitude (WGS84).")
    requested_at: datetime = Field(description="When it was received (UTC).")
    updated_at: datetime = Field(description="Last change (UTC).")
    duplicate_of: str | None = Field(description="Ticket this one is linked to.")
    has_media: bool = Field(description="Whether a photo is stored.")
    evidence: list[EvidenceView] = Field(description="Camera events cited by the reply.")
    contact: ContactView | None = Field(
        default=None, description="Contact details (operators only; absent for viewers)."
    )
    subtype: str | None = Field(default=None, description="What exactly (e.g. wrong_way, tree).")
    emergency_kinds: list[str] = Field(
        default_factory=list, description="injury, fire, trapped, violence (empty: none)."
    )
    emergency_numbers: list[str] = Field(
        default_factory=list, description="Numbers the reply told the caller, best first."
    )
    needs_detail: bool = Field(default=False, description="The reply asked for more detail.")
    acknowledged_at: datetime | None = Field(
        default=None, description="When an operator acknowledged the emergency (UTC)."
    )
    acknowledged_by: str | None = Field(default=None, description="Who acknowledged it.")
    dispatch_target: str | None = Field(
        default=None, description="Where the ticket was forwarded (None: operations queue)."
    )
    dispatch_status: str | None = Field(
        default=None, description="pending, sent or failed (None: not forwarded)."
    )


class StatusIn(BaseModel):
    """An operator's status change and answer."""

    model_config = ConfigDict(extra="forbid")

    status: OperatorStatus = Field(description="New status.")
    notes: str | None = Field(
        default=None, max_length=2000, description="Answer shown to the citizen (status_notes)."
    )


class MergeIn(BaseModel):
    """Link a report to the ticket of the same incident (it is closed with a note)."""

    model_config = ConfigDict(extra="forbid")

    into: str = Field(min_length=1, max_length=32, description="Ticket to merge into.")
    notes: str | None = Field(
        default=None, max_length=2000, description="Answer shown to the citizen."
    )
