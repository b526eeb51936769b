"""The operations page's own endpoints: false alarms, emergencies, plots, public open data.

On SQLite and PostgreSQL (``backend``): a false alarm keeps its reason for rule tuning, an
emergency report is listed until an operator takes it, the plots are bucketed as drawn, the
public open-data tables need no login and publish nothing below k, and the cameras' names in
both languages go from the scene config to the API.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.api.cli import register_camera_configs
from cloud.api.routers.opendata import public_period
from tests.api.conftest import Backend
from tests.events import T0, ago, make_event
from traffic_monitor.contract import Event, EventType

REPO = Path(__file__).resolve().parents[2]
EMERGENCY = "Tai nạn giữa ngã tư, một người bị thương chảy nhiều máu, nằm bất tỉnh"


def _utc(stamp: str) -> bool:
    return datetime.fromisoformat(stamp).utcoffset() == timedelta(0)


def _count(minutes_ago: float, moto: int, p50: float | None = 31.0) -> Event:
    classes = [
        {"object_class": "motorcycle", "direction": "in", "count": moto},
        {"object_class": "bus", "direction": "out", "count": 2},
    ]
    measures: dict[str, object] = {"count": moto + 2, "classes": classes}
    measures["speed_samples"] = moto
    measures |= {"speed_mean_kmh": 33.0, "speed_p85_kmh": 42.0}
    if p50 is not None:
        measures["speed_p50_kmh"] = p50
    return make_event(
        EventType.COUNT, time=ago(minutes_ago), measurements=measures,
        attributes={"line": "l1", "interval_s": 900},
    )  # fmt: skip


def test_false_alarm_keeps_its_reason_and_closes_the_card(backend: Backend):
    backend.add_events(make_event(EventType.PEDESTRIAN_ON_CARRIAGEWAY, time=T0, rule="ped"))
    op = backend.login("operator")
    [alert] = backend.client.get("/api/alerts", headers=op).json()
    body = {"alert_id": alert["id"], "reason": "wrong_class", "note": "người trên xe máy"}
    res = backend.client.post("/api/false-alarms", json=body, headers=op)
    assert res.status_code == 200 and res.json()["state"] == "dismissed"
    [kept] = backend.client.get("/api/false-alarms?rule=ped", headers=op).json()
    assert (kept["reason"], kept["type"], kept["actor"]) == (
        "wrong_class",
        "pedestrian_on_carriageway",
        "operator",
    )
    assert kept["note"] == "người trên xe máy" and _utc(kept["time"])
    assert backend.client.post("/api/false-alarms", json=body, headers=op).status_code == 409
    bad = {"alert_id": alert["id"], "reason": "because"}
    assert backend.client.post("/api/false-alarms", json=bad, headers=op).status_code == 422
    audit = backend.client.get(f"/api/alerts/{alert['id']}/audit", headers=op).json()
    assert [a["action"] for a in audit] == ["alert.dismiss"]


def test_emergency_report_rings_until_an_operator_takes_it(backend: Backend):
    data = {"service_code": "other", "description": EMERGENCY, "lat": "10.77", "long": "106.70"}
    [created] = backend.client.post("/open311/v2/requests.json", data=data).json()
    ticket = created["service_request_id"]
    normal = {"service_code": "road_hazard", "description": "ổ gà trên đường Lê Lợi"}
    normal |= {"address_string": "12 Lê Lợi, quận 1"}
    res = backend.client.post("/open311/v2/requests.json", data=normal)
    assert res.status_code == 201, res.text
    [other] = res.json()
    viewer, op = backend.login("viewer"), backend.login("operator")
    [item] = backend.client.get("/api/reports/emergencies", headers=viewer).json()
    assert item["ticket"] == ticket and item["acknowledged_by"] is None
    path = f"/api/reports/{ticket}/acknowledge"
    assert backend.client.post(path, headers=viewer).status_code == 403
    taken = backend.client.post(path, headers=op).json()
    assert taken["acknowledged_by"] == "operator" and _utc(taken["acknowledged_at"])
    assert (
        backend.client.post(path, headers=op).json()["acknowledged_at"] == taken["acknowledged_at"]
    )
    [item] = backend.client.get("/api/reports/emergencies", headers=viewer).json()
    assert item["acknowledged_by"] == "operator"
    other_path = f"/api/reports/{other['service_request_id']}/acknowledge"
    assert backend.client.post(other_path, headers=op).status_code == 400
    unknown = "/api/reports/PA-999999/acknowledge"
    assert backend.client.post(unknown, headers=op).status_code == 404
    closed = {"status": "closed", "notes": "Đã chuyển 115"}
    backend.client.post(f"/api/reports/{ticket}/status", json=closed, headers=op)
    assert backend.client.get("/api/reports/emergencies", headers=viewer).json() == []


def test_plots_bucket_counts_speeds_and_incidents(backend: Backend):
    backend.add_events(
        _count(20, 40),
        _count(35, 60),
        make_event(EventType.SPEEDING, time=T0).model_copy(
            update={"time": datetime.now(UTC) - timedelta(minutes=10)}
        ),
    )
    h = backend.login("viewer")
    cam = backend.client.get("/api/plots/camera/cam-1?hours=24", headers=h).json()
    assert cam["interval_min"] == 15
    assert sum(r["count"] for r in cam["counts"] if r["object_class"] == "motorcycle") == 100
    assert {r["p50_kmh"] for r in cam["speeds"]} == {31.0}
    assert {r["p85_kmh"] for r in cam["speeds"]} == {42.0}
    city = backend.client.get("/api/plots/city?hours=24", headers=h).json()
    assert [(r["type"], r["count"]) for r in city["events"]] == [("speeding", 1)]  # no counts
    settings = backend.client.get("/api/ui-settings", headers=h).json()
    assert settings["timezone"] == "Asia/Ho_Chi_Minh" and settings["tile_url"] is None


def test_public_open_data_needs_no_login_and_hides_small_counts(backend: Backend):
    backend.add_events(_count(20, 40), _count(35, 60, p50=None))
    res = backend.client.get("/open-data/latest/counts.json")
    assert res.status_code == 200
    rows = res.json()
    assert {r["count"] for r in rows if r["object_class"] == "bus"} == {None}  # 2 < k = 5
    assert sorted(r["count"] for r in rows if r["object_class"] == "motorcycle") == [40, 60]
    text = backend.client.get("/open-data/latest/counts.csv").text
    assert next(iter(csv.DictReader(io.StringIO(text))))["object_class"]
    speeds = backend.client.get("/open-data/latest/speeds.json").json()
    assert sorted((r["speed_samples"], r["p50_speed_kmh"]) for r in speeds) == [
        (40, 31.0),
        (60, None),  # an edge that sent no median: none published
    ]
    meta = backend.client.get("/open-data/latest/metadata.json").json()
    assert meta["suppression_k"] == 5 and meta["time_zone"] == "Asia/Ho_Chi_Minh"
    assert backend.client.get("/open-data/latest/secrets.json").status_code == 404
    page = backend.client.get("/open-data/")
    assert (
        page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    )


def test_public_period_is_a_local_day_or_the_last_day():
    day = public_period(datetime(2026, 12, 6).date(), "Asia/Ho_Chi_Minh")
    assert day.start.astimezone(UTC) == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert day.end - day.start == timedelta(days=1)
    now = datetime(2026, 12, 6, 10, 7, tzinfo=UTC)
    last = public_period(None, "Asia/Ho_Chi_Minh", now)
    assert last.end == datetime(2026, 12, 6, 10, 15, tzinfo=UTC)


def test_camera_names_in_both_languages_from_the_scene_config(backend: Backend):
    register_camera_configs(backend.store, [REPO / "configs" / "vn_nga_ba_hue_overpass.yaml"])
    cams = backend.client.get("/api/cameras", headers=backend.login("viewer")).json()
    [cam] = [c for c in cams if c["camera_id"] == "nga-ba-hue-overpass"]
    assert cam["name_vi"] == "Cầu vượt Ngã ba Huế, nhìn dọc tuyến đường"
    assert cam["name_en"] == "Ngã ba Huế overpass, looking along the road"
    sites = backend.client.get("/open-data/latest/sites.json").json()
    [site] = [s for s in sites if s["camera_id"] == "nga-ba-hue-overpass"]
    assert (site["lat"], site["lon"], site["name_vi"]) == (16.0614, 108.1722, cam["name_vi"])


def test_docs_are_served_from_the_package():
    from fastapi.testclient import TestClient

    from cloud.api import ApiSettings, create_app
    from cloud.store import EventStore

    client = TestClient(create_app(ApiSettings(), EventStore("sqlite://")))
    page = client.get("/docs")
    assert page.status_code == 200 and "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "<script>" not in page.text and "cdn" not in page.text.lower()
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert client.get("/redoc", follow_redirects=False).headers["location"] == "/docs"
