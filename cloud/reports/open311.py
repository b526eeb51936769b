"""Open311 GeoReport v2 wire models (JSON), plus a few extension fields marked as such."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Service(BaseModel):
    """One report category, as ``GET services`` lists it."""

    model_config = ConfigDict(extra="forbid")

    service_code: str = Field(description="Unique id of the service (the report category).")
    service_name: str = Field(description="Human-readable name.")
    description: str = Field(description="What the service is for.")
    metadata: bool = Field(default=False, description="Whether extra attributes are defined.")
    type: Literal["realtime", "batch", "blackbox"] = Field(
        default="realtime", description="realtime: the request id is returned at once."
    )
    keywords: str = Field(default="", description="Comma-separated keywords.")
    group: str = Field(default="traffic", description="Category group.")


class RequestCreated(BaseModel):
    """The answer to ``POST requests`` (a one-element list on the wire)."""

    model_config = ConfigDict(extra="forbid")

    service_request_id: str = Field(description="The ticket number.")
    service_notice: str = Field(description="The automatic reply to the citizen.")
    account_id: str | None = Field(default=None, description="Not used (no accounts).")


class ServiceRequest(BaseModel):
    """One request as ``GET requests`` and ``GET requests/{id}`` return it (no contact data)."""

    model_config = ConfigDict(extra="forbid")

    service_request_id: str = Field(description="The ticket number.")
    status: Literal["open", "closed"] = Field(description="Open311 status.")
    status_notes: str | None = Field(description="The operator's answer, if any.")
    service_name: str = Field(description="Name of the category.")
    service_code: str = Field(description="The category.")
    description: str = Field(description="The citizen's text, verbatim (render as text).")
    agency_responsible: str = Field(description="Who handles it.")
    service_notice: str = Field(description="The automatic reply.")
    requested_datetime: datetime = Field(description="When it was received (UTC).")
    updated_datetime: datetime = Field(description="Last change (UTC).")
    expected_datetime: datetime | None = Field(description="Target handling time (policy).")
    address: str | None = Field(description="The address given, if any.")
    address_id: str | None = Field(default=None, description="Not used.")
    zipcode: str | None = Field(default=None, description="Not used.")
    lat: float | None = Field(description="Latitude (WGS84).")
    long: float | None = Field(description="Longitude (WGS84).")
    media_url: str | None = Field(default=None, description="Not published (privacy).")
    urgency: str = Field(description="Extension: emergency, high or normal.")
    duplicate_of: str | None = Field(description="Extension: ticket this one is linked to.")
    evidence_event_ids: list[str] = Field(description="Extension: stored camera events cited.")


class Open311Error(BaseModel):
    """One error, as Open311 lists them."""

    model_config = ConfigDict(extra="forbid")

    code: int = Field(description="HTTP status.")
    description: str = Field(description="Why the request was refused.")
