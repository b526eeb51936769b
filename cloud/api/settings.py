"""Settings of the aggregator's HTTP API, read from the environment or a JSON file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cloud.services.ratelimit import storage_scheme
from cloud.services.reports import ReportsConfig
from traffic_monitor.errors import UserFacingError

ENV_PREFIX = "TM_API_"
"""Every field can be set with ``TM_API_<FIELD NAME IN CAPITALS>``."""


class ApiSettings(BaseModel):
    """What the HTTP API needs to run."""

    model_config = ConfigDict(extra="forbid")

    database_url: str = Field(
        default="sqlite:///var/aggregator.sqlite3", description="SQLAlchemy URL of the store."
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema of the tables (None: the default one)."
    )
    session_ttl_s: int = Field(
        default=8 * 3600, ge=60, le=7 * 24 * 3600, description="Lifetime of a login session."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed logins allowed per user and address."
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Failed logins allowed per address, whatever the user names (spraying).",
    )
    login_window_s: int = Field(
        default=300, ge=1, le=86400, description="Window of the failed-login rate limit."
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description=(
            "Where the login and report rate limits count: memory:// (one server process) or"
            " redis://host:6379/0, which every process of `cloud serve --workers N` shares."
        ),
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body (413 above); report photos have their own limit.",
    )
    live_poll_s: float = Field(
        default=0.3, gt=0.0, le=10.0, description="How often the live stream polls the store."
    )
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh", description="City time zone the web page displays."
    )
    cookie_secure: bool = Field(
        default=False, description="Mark the session cookie Secure (set behind HTTPS)."
    )
    open_data_k: int = Field(
        default=5, ge=1, le=1000, description="Counts below k are suppressed in open data."
    )
    open_data_dir: str | None = Field(
        default=None, description="Folder of published open-data files, served at /open-data."
    )
    reports: ReportsConfig = Field(
        default_factory=ReportsConfig,
        description="Citizen-report intake limits (Open311 at /open311/v2; JSON file only).",
    )
    camera_cache_s: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        description="How long the report intake reuses the camera positions it read.",
    )
    map_tile_url: str | None = Field(
        default=None,
        description=(
            "Web-Mercator tile URL of the camera map, e.g. http://tiles.city.local/{z}/{x}/{y}.png"
            " (None: a coordinate grid, no tiles)."
        ),
    )

    @field_validator("rate_limit_storage")
    @classmethod
    def _check_rate_limit_storage(cls, value: str) -> str:
        storage_scheme(value)  # ValueError names the supported schemes
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _check_tile_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("map_tile_url must be an http(s) URL with a host")
        if parts.username or parts.password or "{" in parts.netloc:
            raise ValueError("map_tile_url: one fixed host, no user name or placeholder in it")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(f"map_tile_url lacks {', '.join(missing)}")
        return value

    @property
    def map_tile_origin(self) -> str | None:
        """``scheme://host[:port]`` of the tile server, for the page's CSP (None: no tiles)."""
        if self.map_tile_url is None:
            return None
        parts = urlsplit(self.map_tile_url)
        return f"{parts.scheme}://{parts.netloc}"


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> ApiSettings:
    """Build settings from a JSON file (optional) overridden by ``TM_API_*`` variables.

    Raises:
        UserFacingError: when the file is unreadable or a value is invalid.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UserFacingError(f"cannot read API settings {path}: {exc}") from exc
    source = os.environ if env is None else env
    for name in ApiSettings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in source:
            values[name] = source[key]
    try:
        return ApiSettings(**values)
    except ValidationError as exc:
        raise UserFacingError(f"invalid API settings:\n{exc}") from exc
