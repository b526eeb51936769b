"""Open data and statistics over HTTP: the aggregated tables for authenticated clients."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import ValidationError

from cloud.api.deps import State, Viewer
from cloud.opendata import OpenDataQuery, aggregate, dcat_metadata

router = APIRouter(prefix="/api", tags=["open data"])


@router.get("/open-data")
def open_data(
    *,
    state: State,
    who: Viewer,
    start: datetime,
    end: datetime,
    interval_min: Annotated[int, Query(ge=1, le=1440)] = 15,
) -> dict[str, Any]:
    """Return the open-data tables and their DCAT metadata for a period (k from settings)."""
    try:
        query = OpenDataQuery(
            start=start, end=end, interval_min=interval_min, k=state.settings.open_data_k
        )
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    tables = aggregate(state.store, query)
    return {"metadata": dcat_metadata(query, tables), **tables}


@router.get("/stats")
def statistics(
    *,
    state: State,
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
    tables = aggregate(state.store, query)
    if camera_id is not None:
        tables = {
            name: [r for r in rows if r["camera_id"] == camera_id] for name, rows in tables.items()
        }
    return tables
