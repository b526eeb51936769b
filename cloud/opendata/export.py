"""Aggregate stored events into per-camera, per-interval statistics safe to publish.

What is published: vehicle counts by class and direction, and mean and 85th-percentile speed,
both from the edge's per-line, per-interval ``count`` events (the speed of every measured
crossing, not only of ``speeding`` events, whose speeds are never used here: they would bias
the figures upward); the worst congestion level; and event counts by type. Never track ids,
images or timestamps of single vehicles: times are interval starts, and every count (or speed
sample size) below ``k`` is suppressed.

A line usually reports several intervals (60 s and 900 s by default) covering the same
vehicles: only its finest interval is used, so nothing is counted twice. The mean speed of an
output row is the sample-weighted mean of the count events' means (exact). Its 85th
percentile is the sample-weighted mean of their 85th percentiles: exact when one count event
fills the row, an approximation when several do (lines, or edge intervals shorter than the
row), since percentiles do not combine exactly from summaries.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from cloud.db import CameraRecord, EventRecord
from cloud.store import EventStore
from traffic_monitor.contract import ContractError, event_from_dict
from traffic_monitor.contract.events import CountEvent
from traffic_monitor.contract.payloads import CountMeasurements

logger = logging.getLogger(__name__)

LICENCE = "https://creativecommons.org/licenses/by/4.0/"
CONGESTION_ORDER = ("free", "heavy", "jam")
Key = tuple[str, str, datetime]
Series = tuple[str, str, str, str]
"""A counting line's count events: site, camera, rule, line."""


class _SpeedSum:
    """Sample-weighted sums of count events' speed aggregates for one output row."""

    def __init__(self) -> None:
        self.samples = 0
        self.mean_sum = 0.0
        self.p85_sum = 0.0
        self.p50_samples = 0  # only count events that carry a median (newer edges)
        self.p50_sum = 0.0

    def add(self, samples: int, mean: float, p85: float, p50: float | None = None) -> None:
        self.samples += samples
        self.mean_sum += samples * mean
        self.p85_sum += samples * p85
        if p50 is not None:
            self.p50_samples += samples
            self.p50_sum += samples * p50

    def merge(self, other: _SpeedSum) -> None:
        self.samples += other.samples
        self.mean_sum += other.mean_sum
        self.p85_sum += other.p85_sum
        self.p50_samples += other.p50_samples
        self.p50_sum += other.p50_sum

    def p50(self) -> float | None:
        """The median, when every count event of the row carried one."""
        if self.samples == 0 or self.p50_samples != self.samples:
            return None
        return round(self.p50_sum / self.samples, 1)


class _LineSeries:
    """Counts and speed sums of one line and one edge interval, per output bucket."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[datetime, str, str]] = Counter()
        self.speeds: dict[datetime, _SpeedSum] = defaultdict(_SpeedSum)

    def add(self, bucket: datetime, measures: CountMeasurements) -> None:
        for row in measures.classes:
            self.counts[bucket, row.object_class, row.direction.value] += row.count
        samples = int(measures.speed_samples or 0)
        mean, p85 = measures.speed_mean_kmh, measures.speed_p85_kmh
        if samples > 0 and mean is not None and p85 is not None:
            self.speeds[bucket].add(samples, mean, p85, measures.speed_p50_kmh)


class OpenDataQuery(BaseModel):
    """Which period to export, how to bucket it and the suppression threshold."""

    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="Start of the period (aware, inclusive).")
    end: datetime = Field(description="End of the period (aware, exclusive).")
    interval_min: int = Field(default=15, ge=1, le=1440, description="Interval in minutes.")
    k: int = Field(default=5, ge=1, le=1000, description="Counts below k are suppressed.")

    @model_validator(mode="after")
    def _check(self) -> OpenDataQuery:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a UTC offset")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > timedelta(days=366):
            raise ValueError("export at most one year at a time")
        return self


def _bucket(time: datetime, query: OpenDataQuery) -> datetime:
    """Start of the interval holding ``time``; intervals are aligned on the UTC epoch."""
    width = query.interval_min * 60
    return datetime.fromtimestamp((time.timestamp() // width) * width, UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _series(site: str, camera: str, event: CountEvent) -> tuple[Series, float]:
    """The line a count event belongs to, and its edge interval (inf when not stated)."""
    line = event.attributes.line or event.geometry.zone or ""
    interval = event.attributes.interval_s
    width = float(interval) if interval is not None else math.inf
    return (site, camera, event.rule, line), width


def _count_event(payload: dict[str, Any]) -> CountEvent | None:
    """A stored count event, schema 1 or 2 (None, logged, when it does not validate)."""
    try:
        event = event_from_dict(payload)
    except ContractError as exc:
        logger.warning("open data: stored count event skipped (%s)", exc)
        return None
    return event if isinstance(event, CountEvent) else None


def _finest(
    series: dict[tuple[Series, float], _LineSeries],
) -> tuple[Counter[tuple[str, str, datetime, str, str]], dict[Key, _SpeedSum]]:
    """Counts and speed sums from each line's finest interval only (no double counting)."""
    finest: dict[Series, float] = {}
    for line, width in series:
        finest[line] = min(width, finest.get(line, math.inf))
    counts: Counter[tuple[str, str, datetime, str, str]] = Counter()
    speeds: dict[Key, _SpeedSum] = defaultdict(_SpeedSum)
    for (line, width), data in series.items():
        if width != finest[line]:
            continue
        site, camera = line[0], line[1]
        for (bucket, cls, direction), n in data.counts.items():
            counts[site, camera, bucket, cls, direction] += n
        for bucket, sums in data.speeds.items():
            speeds[site, camera, bucket].merge(sums)
    return counts, speeds


def aggregate(
    store: EventStore, query: OpenDataQuery, camera_id: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Return the three open-data tables: ``counts``, ``speeds``, ``events``.

    Counts and speeds come from ``count`` events only (see the module docstring); speeds
    carried by single events (``speeding``) are ignored. ``camera_id`` keeps one camera.
    """
    start, end = query.start.astimezone(UTC), query.end.astimezone(UTC)
    series: dict[tuple[Series, float], _LineSeries] = defaultdict(_LineSeries)
    congestion: dict[Key, int] = {}
    types: Counter[tuple[str, str, datetime, str]] = Counter()
    with store.session() as db:
        rows = db.execute(
            select(
                EventRecord.site_id,
                EventRecord.camera_id,
                EventRecord.time,
                EventRecord.type,
                EventRecord.payload,
            ).where(
                EventRecord.time >= start,
                EventRecord.time < end,
                *([EventRecord.camera_id == camera_id] if camera_id is not None else []),
            )
        )
        for site, camera, time, type_, payload in rows:
            key = (site, camera, _bucket(_utc(time), query))
            types[(*key, type_)] += 1
            event = _count_event(payload) if type_ == "count" else None
            if event is not None:
                series[_series(site, camera, event)].add(key[2], event.measurements)
            level = (payload.get("attributes") or {}).get("level")
            if type_ == "congestion" and level in CONGESTION_ORDER:
                congestion[key] = max(congestion.get(key, 0), CONGESTION_ORDER.index(level))
    counts, speeds = _finest(series)
    return {
        "counts": _count_rows(counts, query),
        "speeds": _speed_rows(speeds, congestion, query),
        "events": _type_rows(types, query),
    }


def _base(key: Key, query: OpenDataQuery) -> dict[str, Any]:
    site, camera, bucket = key
    return {
        "site_id": site,
        "camera_id": camera,
        "interval_start": bucket.isoformat(),
        "interval_end": (bucket + timedelta(minutes=query.interval_min)).isoformat(),
    }


def _suppress(value: int, k: int) -> int | None:
    return value if value >= k else None


def _count_rows(
    counts: Counter[tuple[str, str, datetime, str, str]], query: OpenDataQuery
) -> list[dict[str, Any]]:
    out = []
    for (site, camera, bucket, cls, direction), n in sorted(counts.items()):
        row = _base((site, camera, bucket), query)
        row |= {"object_class": cls, "direction": direction, "count": _suppress(n, query.k)}
        out.append(row)
    return out


def _speed_rows(
    speeds: dict[Key, _SpeedSum], congestion: dict[Key, int], query: OpenDataQuery
) -> list[dict[str, Any]]:
    out = []
    for key in sorted(set(speeds) | set(congestion)):
        sums = speeds.get(key, _SpeedSum())
        enough = sums.samples >= query.k
        row = _base(key, query)
        row |= {
            "speed_samples": _suppress(sums.samples, query.k),
            "mean_speed_kmh": round(sums.mean_sum / sums.samples, 1) if enough else None,
            "p50_speed_kmh": sums.p50() if enough else None,
            "p85_speed_kmh": round(sums.p85_sum / sums.samples, 1) if enough else None,
            "congestion_level": CONGESTION_ORDER[congestion[key]] if key in congestion else None,
        }
        out.append(row)
    return out


def _type_rows(
    types: Counter[tuple[str, str, datetime, str]], query: OpenDataQuery
) -> list[dict[str, Any]]:
    out = []
    for (site, camera, bucket, type_), n in sorted(types.items()):
        row = _base((site, camera, bucket), query)
        row |= {"event_type": type_, "count": _suppress(n, query.k)}
        out.append(row)
    return out


def camera_sites(
    store: EventStore, tables: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Where each camera of the tables stands: site, camera, names and WGS84 coordinates.

    Every registered camera is listed (a site with no published row yet still has a place),
    under the site its events carry (the registered one when it has none); a camera seen only
    in events has empty names and coordinates.
    """
    with store.session() as db:
        registered = {r.camera_id: r for r in db.scalars(select(CameraRecord))}
    seen: dict[str, set[str]] = defaultdict(set)
    for rows in tables.values():
        for r in rows:
            seen[r["camera_id"]].add(r["site_id"])
    out = []
    for camera in sorted(set(seen) | set(registered)):
        record = registered.get(camera)
        for site in sorted(seen.get(camera) or {record.site_id if record else ""}):
            out.append(
                {
                    "site_id": site,
                    "camera_id": camera,
                    "name_vi": (record.name_vi or record.name) if record else "",
                    "name_en": (record.name_en or record.name) if record else "",
                    "lat": record.lat if record else None,
                    "lon": record.lon if record else None,
                }
            )
    return out


def _location(site: dict[str, Any]) -> dict[str, Any]:
    place: dict[str, Any] = {
        "@type": "dct:Location",
        "dct:identifier": f"{site['site_id']}/{site['camera_id']}",
    }
    if site["lat"] is not None and site["lon"] is not None:
        place["dcat:centroid"] = f"POINT({site['lon']} {site['lat']})"  # WKT: longitude first
    return place


def dcat_metadata(
    query: OpenDataQuery,
    tables: dict[str, list[dict[str, Any]]],
    sites: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return a DCAT-style (JSON-LD) description of an export.

    ``dct:spatial`` holds one location per camera (with its WGS84 centroid when the camera's
    position is registered); without ``sites``, only the cameras' identifiers.
    """
    if sites is None:
        cameras = sorted({(r["site_id"], r["camera_id"]) for rows in tables.values() for r in rows})
        sites = [{"site_id": s, "camera_id": c, "lat": None, "lon": None} for s, c in cameras]
    names = [*tables, "sites"]
    return {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
        "@type": "dcat:Dataset",
        "dct:title": [
            {"@language": "vi", "@value": "Thống kê giao thông theo camera"},
            {"@language": "en", "@value": "Traffic statistics per camera"},
        ],
        "dct:description": [
            {
                "@language": "vi",
                "@value": (
                    "Lượt xe theo loại và hướng, tốc độ trung bình, trung vị và phân vị 85 của "
                    "các xe qua vạch đếm (camera đã hiệu chuẩn; các phân vị là trung bình có "
                    "trọng số của phân vị từng vạch, từng khoảng), mức ùn tắc và số sự kiện "
                    f"theo camera mỗi {query.interval_min} phút. Số nhỏ hơn k={query.k} được "
                    "để trống. Không có mã theo vết, hình ảnh hay thời điểm của từng xe."
                ),
            },
            {
                "@language": "en",
                "@value": (
                    "Aggregated counts by class and direction, mean, median and 85th-percentile "
                    "speeds of the vehicles crossing counting lines (calibrated cameras; the "
                    "percentiles are sample-weighted means of per-line, per-interval "
                    "percentiles), congestion level and event counts per camera per "
                    f"{query.interval_min} minutes. Values below k={query.k} are suppressed "
                    "(empty). No track ids, images or individual timestamps."
                ),
            },
        ],
        "dct:license": LICENCE,
        "dct:temporal": {
            "dcat:startDate": query.start.astimezone(UTC).isoformat(),
            "dcat:endDate": query.end.astimezone(UTC).isoformat(),
        },
        "dct:spatial": [_location(site) for site in sites],
        "dct:accrualPeriodicity": "http://purl.org/cld/freq/daily",
        "dct:issued": datetime.now(UTC).isoformat(timespec="seconds"),
        "dcat:distribution": [
            {"dct:title": name, "dcat:mediaType": media, "dcat:downloadURL": f"{name}.{ext}"}
            for name in names
            for ext, media in (("csv", "text/csv"), ("json", "application/json"))
        ],
        "suppression_k": query.k,
    }


def table_csv(rows: list[dict[str, Any]]) -> str:
    """One table as CSV text (header from the first row; empty text for no row)."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def write_open_data(store: EventStore, query: OpenDataQuery, out: Path) -> list[Path]:
    """Write ``<table>.csv``, ``<table>.json`` and ``metadata.json`` to ``out``."""
    tables = aggregate(store, query)
    sites = camera_sites(store, tables)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in {**tables, "sites": sites}.items():
        csv_path, json_path = out / f"{name}.csv", out / f"{name}.json"
        csv_path.write_text(table_csv(rows), encoding="utf-8")
        json_path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        paths += [csv_path, json_path]
    meta = out / "metadata.json"
    meta.write_text(
        json.dumps(dcat_metadata(query, tables, sites), ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    logger.info("open data written to %s", out)
    return [*paths, meta]
