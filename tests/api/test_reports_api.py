"""Citizen reports mounted in the aggregator: Open311 public intake, operators' side, cameras.

Runs on SQLite and on the local PostgreSQL (the ``backend`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from cloud.db import AuditRecord
from tests.api.conftest import JPEG, Backend
from tests.events import ago, make_event
from traffic_monitor.contract import Event, EventType

HUE = {"camera_id": "cam-hue", "site_id": "hanoi", "name": "Ngã ba Huế", "lat": 21.0117}
HUE |= {"lon": 105.8506, "heading_deg": 90.0}
FAR = {"camera_id": "cam-far", "site_id": "hanoi", "name": "Cầu Giấy", "lat": 21.0362}
FAR |= {"lon": 105.7906}
HERE = {"lat": "21.0120", "long": "105.8510"}
SCRIPT = "<script>window.__pwned=1</script> kẹt xe"


def _recent(camera: str, type_: EventType = EventType.CONGESTION, minutes: float = 3) -> Event:
    return make_event(
        type_, camera_id=camera, site_id="hanoi", node_id="node-1", time=ago(minutes), rule="r"
    )


def _register(b: Backend) -> None:
    admin = b.login("admin")
    res = b.client.put("/api/cameras", json=[HUE, FAR], headers=admin)
    assert res.status_code == 200, res.text


def _report(b: Backend, description: str, code: str = "congestion", **extra: str) -> str:
    data = {"service_code": code, "description": description, **HERE, **extra}
    res = b.client.post("/open311/v2/requests.json", data=data)
    assert res.status_code == 201, res.text
    return str(res.json()[0]["service_request_id"])


def test_open311_is_public_and_reply_cites_registered_camera(backend: Backend):
    b = backend
    _register(b)
    congestion = _recent("cam-hue")
    b.add_events(congestion, _recent("cam-far"), snapshot=True)
    assert b.client.get("/open311/v2/services.json").status_code == 200
    data = {"service_code": "congestion", "description": "kẹt xe quá", **HERE}
    [created] = b.client.post("/open311/v2/requests.json", data=data).json()
    assert "Camera Ngã ba Huế đã ghi nhận ùn tắc" in created["service_notice"]
    ticket = created["service_request_id"]
    [req] = b.client.get(f"/open311/v2/requests/{ticket}.json").json()
    assert req["evidence_event_ids"] == [str(congestion.event_id)]  # the far camera is not cited


def test_operator_view_lists_reports_and_answers_flow_back(backend: Backend):
    b = backend
    _register(b)
    event = _recent("cam-hue")
    b.add_events(event, snapshot=True)
    ticket = _report(b, SCRIPT, email="dan@example.vn", phone="0900000001")
    viewer, operator = b.login("viewer"), b.login("operator")

    [seen] = b.client.get("/api/reports", headers=viewer).json()
    assert seen["ticket"] == ticket and seen["description"] == SCRIPT  # verbatim, as JSON data
    assert (seen["category"], seen["urgency"], seen["status"]) == ("congestion", "normal", "open")
    assert seen["contact"] is None  # viewers never see contact details
    assert [e["event_id"] for e in seen["evidence"]] == [str(event.event_id)]
    assert seen["evidence"][0]["has_snapshot"] and seen["evidence"][0]["camera_id"] == "cam-hue"
    mine = b.client.get(f"/api/reports/{ticket}", headers=operator).json()
    assert mine["contact"]["email"] == "dan@example.vn"

    answer = "Đã điều phối CSGT phân luồng."
    res = b.client.post(
        f"/api/reports/{ticket}/status",
        json={"status": "confirmed", "notes": answer},
        headers=operator,
    )
    assert res.status_code == 200, res.text
    [public] = b.client.get(f"/open311/v2/requests/{ticket}.json").json()
    assert (public["status"], public["status_notes"]) == ("open", answer)  # confirmed is open
    data = {"service_code": "congestion", "description": "kẹt xe cứng ngắc", **HERE}
    [again] = b.client.post("/open311/v2/requests.json", data=data).json()
    assert f"gộp vào phiếu {ticket}" in again["service_notice"]  # confirmed still takes dups
    b.client.post(f"/api/reports/{ticket}/status", json={"status": "closed"}, headers=operator)
    [public] = b.client.get(f"/open311/v2/requests/{ticket}").json()
    assert (public["status"], public["status_notes"]) == ("closed", answer)
    assert "contact" not in public and "dan@example.vn" not in str(public)
    listed = b.client.get("/api/reports?status=closed", headers=viewer).json()
    assert [r["ticket"] for r in listed] == [ticket]
    [other] = b.client.get("/api/reports?status=open", headers=viewer).json()
    assert other["duplicate_of"] == ticket
    with b.store.session() as db:
        actions = list(
            db.scalars(select(AuditRecord.action).where(AuditRecord.actor == "operator"))
        )
    assert actions.count("report.status") == 2


def test_operator_merges_reports_and_bad_changes_are_refused(backend: Backend):
    b = backend
    first = _report(b, "đèn đỏ hư", code="signal_fault")
    other = _report(b, "ổ gà rất to giữa đường", code="road_hazard")
    operator = b.login("operator")
    res = b.client.post(f"/api/reports/{other}/merge", json={"into": first}, headers=operator)
    assert res.status_code == 200, res.text
    [public] = b.client.get(f"/open311/v2/requests/{other}.json").json()
    assert public["duplicate_of"] == first and public["status"] == "closed"
    assert first in public["status_notes"]
    self_merge = b.client.post(
        f"/api/reports/{first}/merge", json={"into": first}, headers=operator
    )
    assert self_merge.status_code == 400
    missing = b.client.post(
        "/api/reports/PA-999999/status", json={"status": "closed"}, headers=operator
    )
    assert missing.status_code == 404
    bad = b.client.post(f"/api/reports/{first}/status", json={"status": "done"}, headers=operator)
    assert bad.status_code == 422
    viewer = b.login("viewer")
    assert (
        b.client.post(f"/api/reports/{first}/status", json={"status": "closed"}, headers=viewer)
    ).status_code == 403


def test_report_photo_operator_only_and_audited(backend: Backend):
    import cv2
    import numpy as np

    b = backend
    ok, jpeg = cv2.imencode(".jpg", np.full((32, 48, 3), 90, np.uint8))
    assert ok
    data = {"service_code": "road_hazard", "description": "ổ gà to", **HERE}
    res = b.client.post(
        "/open311/v2/requests.json",
        data=data,
        files={"media": ("p.jpg", jpeg.tobytes(), "image/jpeg")},
    )
    ticket = res.json()[0]["service_request_id"]
    viewer, operator = b.login("viewer"), b.login("operator")
    assert b.client.get(f"/api/reports/{ticket}/photo", headers=viewer).status_code == 403
    photo = b.client.get(f"/api/reports/{ticket}/photo", headers=operator)
    assert photo.status_code == 200 and photo.content.startswith(b"\xff\xd8")
    with b.store.session() as db:
        targets = list(
            db.scalars(select(AuditRecord.target).where(AuditRecord.action == "report.photo.view"))
        )
    assert targets == [f"report:{ticket}"]


def test_events_map_box_filter(backend: Backend):
    b = backend
    _register(b)
    inside, outside, unknown = _recent("cam-hue"), _recent("cam-far"), _recent("cam-nowhere")
    b.add_events(inside, outside, unknown)
    h = b.login("viewer")
    box = {"min_lat": 21.00, "min_lon": 105.84, "max_lat": 21.02, "max_lon": 105.86}
    items = b.client.get("/api/events", params=box, headers=h).json()["items"]
    assert [i["event_id"] for i in items] == [str(inside.event_id)]
    wide = {"min_lat": 21.0, "min_lon": 105.7, "max_lat": 21.1, "max_lon": 105.9}
    items = b.client.get("/api/events", params=wide, headers=h).json()["items"]
    assert {i["camera_id"] for i in items} == {"cam-hue", "cam-far"}  # unpositioned: left out
    assert len(b.client.get("/api/events", headers=h).json()["items"]) == 3  # no box: all
    partial = b.client.get("/api/events", params={"min_lat": 21.0}, headers=h)
    assert partial.status_code == 422
    upside_down = box | {"min_lat": 21.03}
    assert b.client.get("/api/events", params=upside_down, headers=h).status_code == 422
    bad = b.client.get("/api/events", params=box | {"max_lat": 91}, headers=h)
    assert bad.status_code == 422


def test_cameras_positions_state_and_latest_snapshot(backend: Backend):
    from cloud.store.store import Batch
    from traffic_monitor.contract import NodeStatus

    b = backend
    _register(b)
    now = datetime.now(UTC)
    status = NodeStatus(
        site_id="hanoi", node_id="node-1", online=True, time=now, cameras=["cam-hue"]
    )
    b.store.write(Batch(statuses=[(status, now)]))
    old, new = _recent("cam-hue", minutes=10), _recent("cam-hue", minutes=1)
    b.add_events(old, snapshot=True, content=JPEG + b"old")
    b.add_events(new, snapshot=True, content=JPEG + b"new")
    viewer, operator = b.login("viewer"), b.login("operator")
    cams = {c["camera_id"]: c for c in b.client.get("/api/cameras", headers=viewer).json()}
    hue, far = cams["cam-hue"], cams["cam-far"]
    assert (hue["lat"], hue["lon"], hue["name"]) == (21.0117, 105.8506, "Ngã ba Huế")
    assert (hue["state"], hue["node_id"], hue["events"], hue["has_snapshot"]) == (
        "online",
        "node-1",
        2,
        True,
    )
    assert (far["state"], far["events"], far["has_snapshot"]) == ("unknown", 0, False)
    url = "/api/cameras/cam-hue/snapshot"
    assert b.client.get(url, headers=viewer).status_code == 403
    shot = b.client.get(url, headers=operator)
    assert shot.status_code == 200 and shot.content == JPEG + b"new"
    assert shot.headers["x-event-id"] == str(new.event_id)
    assert b.client.get("/api/cameras/cam-far/snapshot", headers=operator).status_code == 404
    with b.store.session() as db:
        audited = db.scalars(select(AuditRecord).where(AuditRecord.action == "evidence.view")).one()
    assert (audited.actor, audited.target) == ("operator", f"event:{new.event_id}")


def test_register_cameras_from_scene_config(sqlite_backend: Backend):
    from pathlib import Path

    from cloud.api.cli import register_camera_configs

    config = Path(__file__).resolve().parents[2] / "configs" / "vn_nga_ba_hue_overpass.yaml"
    [position] = register_camera_configs(sqlite_backend.store, [config])
    assert (position.lat, position.lon) == (16.0614, 108.1722)
    h = sqlite_backend.login("viewer")
    cams = sqlite_backend.client.get("/api/cameras", headers=h).json()
    assert [(c["camera_id"], c["lat"]) for c in cams] == [(position.camera_id, 16.0614)]
