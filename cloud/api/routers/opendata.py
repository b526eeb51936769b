"""Open data over HTTP: the citizens' public tables and the authenticated clients' view.

Public (no login), at ``/open-data/latest/``: the published tables of the last 24 hours, or of
one day in the city's time zone (``?day=YYYY-MM-DD``), as CSV and JSON, the camera sites with
their coordinates, and the DCAT metadata; every count below ``open_data_k`` is empty. The
page that shows them is ``/open-data/`` (:mod:`cloud.web.pages`).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import ValidationError

from cloud.api.deps import Settings, Store, Viewer
from cloud.api.settings import ApiSettings
from cloud.opendata import OpenDataQuery, aggregate, camera_sites, dcat_metadata
from cloud.opendata.export import table_csv
from cloud.store import EventStore

router = APIRouter(prefix="/api", tags=["open data"])
public_router = APIRouter(prefix="/open-data", tags=["open data (public)"])

TABLES = ("counts", "speeds", "events", "sites")
PUBLIC_CACHE_S = 60.0
"""How long one published period is reused before it is aggregated again."""
_cache: dict[tuple[int, datetime, datetime, int], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


@router.get("/open-data")
def open_data(
    *,
    settings: Settings,
    store: Store,
    who: Viewer,
    start: datetime,
    end: datetime,
    interval_min: Annotated[int, Query(ge=1, le=1440)] = 15,
) -> dict[str, Any]:
    """Return the open-data tables and their DCAT metadata for a period (k from settings)."""
    try:
        query = OpenDataQuery(
            start=start, end=end, interval_min=interval_min, k=settings.open_data_k
        )
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    tables = aggregate(store, query)
    sites = camera_sites(store, tables)
    return {"metadata": dcat_metadata(query, tables, sites), **tables, "sites": sites}


@router.get("/stats")
def statistics(
    *,
    settings: Settings,
    store: Store,
    who: Viewer,
    start: datetime,
    end: datetime,
    interval_min: Annotated[int, Query(ge=1, le=1440)] = 15,
    camera_id: str | None = None,
) -> dict[str, Any]:
    """Return per-camera, per-interval statistics (internal view: nothing suppressed)."""
    try:
        query = OpenDataQuery(start=start, end=end, interval_min=interval_min, k=1)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    return aggregate(store, query, camera_id)


def public_period(day: date | None, tz: str, now: datetime | None = None) -> OpenDataQuery:
    """One local day of the city, or the last 24 hours up to the current 15-minute bucket."""
    if day is not None:
        start = datetime.combine(day, datetime.min.time(), ZoneInfo(tz))
        return OpenDataQuery(start=start, end=start + timedelta(days=1), interval_min=15)
    width = 15 * 60
    stamp = (now or datetime.now(UTC)).timestamp()
    end = datetime.fromtimestamp((stamp // width + 1) * width, UTC)
    return OpenDataQuery(start=end - timedelta(days=1), end=end, interval_min=15)


def _published(settings: ApiSettings, store: EventStore, day: date | None) -> dict[str, Any]:
    """The public tables, sites and metadata of a period, reused for ``PUBLIC_CACHE_S``."""
    base = public_period(day, settings.timezone)
    query = base.model_copy(update={"k": settings.open_data_k})
    key = (id(store), query.start, query.end, query.k)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < PUBLIC_CACHE_S:
            return hit[1]
    tables = aggregate(store, query)
    sites = camera_sites(store, tables)
    metadata = dcat_metadata(query, tables, sites) | {"time_zone": settings.timezone}
    body = {**tables, "sites": sites, "metadata": metadata}
    with _cache_lock:
        for stale in [k for k, (t, _) in _cache.items() if time.monotonic() - t >= PUBLIC_CACHE_S]:
            del _cache[stale]
        _cache[key] = (time.monotonic(), body)
    return body


@public_router.get("/latest/{name}")
def published_table(
    name: str,
    settings: Settings,
    store: Store,
    day: Annotated[date | None, Query(description="A local day (YYYY-MM-DD)")] = None,
) -> Response:
    """A published table as ``counts|speeds|events|sites`` + ``.csv|.json``, or metadata.json."""
    table, _, ext = name.rpartition(".")
    if name == "metadata.json":
        body = _published(settings, store, day)["metadata"]
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/ld+json")
    if table not in TABLES or ext not in ("csv", "json"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such table")
    rows = _published(settings, store, day)[table]
    if ext == "json":
        return Response(json.dumps(rows, ensure_ascii=False), media_type="application/json")
    return Response(
        table_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
