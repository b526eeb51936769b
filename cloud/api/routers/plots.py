"""What the operations page draws: per-camera and per-city plots, and the page's settings.

The page draws the charts itself (Chart.js, served by the aggregator); these endpoints give it
the series, already bucketed, so that the browser never handles single events for a plot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import Events, Settings, Store, Viewer
from cloud.opendata import OpenDataQuery, aggregate

router = APIRouter(prefix="/api", tags=["plots"])

STATISTICS_TYPES = ("count", "line_crossing", "zone_occupancy")
"""Event types that are measurements, not incidents: left out of the city's incident plot."""

ROADS_URL = "/static/maps/roads.geojson"
"""The vector outline of the city's roads that the map draws when no tile server is set."""


class UiSettings(BaseModel):
    """How the page formats and draws (read once after login)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(description="IANA time zone the page writes dates in.")
    tile_url: str | None = Field(description="Tile server of the map (None: vector outline).")
    roads_url: str = Field(description="GeoJSON outline of the roads, drawn without tiles.")
    open_data_k: int = Field(description="Counts below k are not published as open data.")


class CameraPlots(BaseModel):
    """One camera's series over the last hours, per ``interval_min`` bucket (UTC starts)."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str = Field(description="Camera.")
    start: datetime = Field(description="Start of the plotted period (UTC, inclusive).")
    end: datetime = Field(description="End of the plotted period (UTC, exclusive).")
    interval_min: int = Field(description="Bucket width in minutes.")
    counts: list[dict[str, Any]] = Field(
        description="interval_start, object_class, direction (in/out), count."
    )
    speeds: list[dict[str, Any]] = Field(
        description="interval_start, samples, p50_kmh (None when the edge sent none), p85_kmh."
    )


class CityPlots(BaseModel):
    """Incidents of every camera by type per hour over the last hours."""

    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="Start of the plotted period (UTC, inclusive).")
    end: datetime = Field(description="End of the plotted period (UTC, exclusive).")
    interval_min: int = Field(description="Bucket width in minutes.")
    events: list[dict[str, Any]] = Field(description="interval_start, type, count.")


def _period(hours: int, interval_min: int) -> tuple[datetime, datetime]:
    """The last ``hours`` up to the end of the current bucket (buckets aligned on the epoch)."""
    width = interval_min * 60
    now = datetime.now(UTC).timestamp()
    end = datetime.fromtimestamp((now // width + 1) * width, UTC)
    return end - timedelta(hours=hours), end


@router.get("/ui-settings", response_model=UiSettings)
def ui_settings(settings: Settings, who: Viewer) -> UiSettings:
    """The operator's time zone, the map's tile server and roads outline, open-data k."""
    return UiSettings(
        timezone=settings.timezone,
        tile_url=settings.map_tile_url,
        roads_url=ROADS_URL,
        open_data_k=settings.open_data_k,
    )


@router.get("/plots/camera/{camera_id}", response_model=CameraPlots)
def camera_plots(
    camera_id: str,
    store: Store,
    who: Viewer,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
) -> CameraPlots:
    """Counts by class and direction per 15 minutes and speed P50/P85 (internal: k = 1).

    From the edge's per-line ``count`` events (each line's finest interval only), as the open
    data; the speeds are those of every vehicle measured on a counting line.
    """
    start, end = _period(hours, 15)
    query = OpenDataQuery(start=start, end=end, interval_min=15, k=1)
    tables = aggregate(store, query, camera_id)
    counts = [
        {k: r[k] for k in ("interval_start", "object_class", "direction", "count")}
        for r in tables["counts"]
        if r["camera_id"] == camera_id
    ]
    speeds = [
        {
            "interval_start": r["interval_start"],
            "samples": r["speed_samples"],
            "p50_kmh": r["p50_speed_kmh"],
            "p85_kmh": r["p85_speed_kmh"],
        }
        for r in tables["speeds"]
        if r["camera_id"] == camera_id and r["speed_samples"]
    ]
    return CameraPlots(
        camera_id=camera_id, start=start, end=end, interval_min=15, counts=counts, speeds=speeds
    )


@router.get("/plots/city", response_model=CityPlots)
def city_plots(
    events: Events,
    who: Viewer,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
) -> CityPlots:
    """Incidents (every type but the statistics: counts, crossings, occupancy) per hour."""
    start, end = _period(hours, 60)
    buckets = events.hourly_counts(start, end, exclude_types=STATISTICS_TYPES)
    rows = [
        {"interval_start": bucket.isoformat(), "type": type_, "count": n}
        for (bucket, type_), n in sorted(buckets.items())
    ]
    return CityPlots(start=start, end=end, interval_min=60, events=rows)
