from __future__ import annotations

import json
import struct
import uuid
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from cloud.api.deps import get_reports
from cloud.db import EventRecord, ReportContact, ReportMedia
from cloud.reports.correlate import CameraSite
from cloud.reports.router import router
from cloud.services.reports import ReportsConfig, ReportsService
from tests.api.conftest import PG_URL, pg_available
from tests.databases import migrated_pg, migrated_sqlite

NOW = datetime(2026, 11, 23, 1, 15, tzinfo=UTC)
CAMERAS = {"cam-hue": CameraSite(21.0117, 105.8506, "Ngã ba Huế")}
HERE = {"lat": "21.0120", "long": "105.8510"}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def _jpeg_with_gps() -> bytes:
    ok, enc = cv2.imencode(".jpg", np.full((64, 96, 3), 120, np.uint8))
    assert ok
    body = enc.tobytes()
    exif = b"Exif\x00\x00" + b"GPSLatitude=21.0120;GPSLongitude=105.8510"
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return body[:2] + app1 + body[2:]


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path):
    """The intake over a store made by the migrations, on SQLite and on the local PostgreSQL."""
    if request.param == "sqlite":
        store = migrated_sqlite(tmp_path / "reports.sqlite3")
    else:
        if not pg_available():
            pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")
        store = migrated_pg("reports_test")
    sessions = sessionmaker(store.engine)
    event_id = uuid.uuid4()
    with sessions() as s:
        t = NOW - timedelta(minutes=3)
        s.add(
            EventRecord(
                event_id=event_id,
                schema_version=1,
                site_id="hanoi",
                node_id="n1",
                camera_id="cam-hue",
                type="congestion",
                phase="start",
                severity="medium",
                time=t,
                received_at=t,
                rule="r",
                payload={},
            )
        )
        s.commit()

    services = []

    def make(**cfg):
        service = ReportsService(sessions, CAMERAS, ReportsConfig(**cfg), now=lambda: NOW)
        services.append(service)
        app = FastAPI()
        app.include_router(router, prefix="/open311/v2")
        app.dependency_overrides[get_reports] = lambda: service
        client = TestClient(app)
        client.service = service  # type: ignore[attr-defined]
        return client

    yield make, sessions, event_id
    for service in services:
        service.close()
    store.drop()
    store.dispose()


def _post(client, data, files=None):
    return client.post("/open311/v2/requests.json", data=data, files=files)


@pytest.mark.parametrize("path", ["/open311/v2/services", "/open311/v2/services.json"])
def test_services(env, path):
    make, _, _ = env
    body = make().get(path).json()
    assert {s["service_code"] for s in body} >= {"accident", "congestion", "signal_fault"}
    for s in body:
        assert set(s) >= SERVICE_FIELDS
        assert s["type"] == "realtime"


def test_post_then_get_cites_stored_event(env):
    make, sessions, event_id = env
    client = make()
    data = {"service_code": "congestion", "description": "kẹt xe quá", **HERE}
    data |= {"email": "a@b.vn", "phone": "0900000000"}
    r = _post(client, data)
    assert r.status_code == 201
    [created] = r.json()
    ticket = created["service_request_id"]
    assert "Camera Ngã ba Huế đã ghi nhận ùn tắc lúc 08:12" in created["service_notice"]
    for path in (f"/open311/v2/requests/{ticket}.json", f"/open311/v2/requests/{ticket}"):
        [req] = client.get(path).json()
        assert set(req) >= REQUEST_FIELDS
        assert req["service_request_id"] == ticket
        assert req["status"] == "open"
        assert req["evidence_event_ids"] == [str(event_id)]
        assert "a@b.vn" not in str(req) and "0900000000" not in str(req)
    with sessions() as s:
        assert s.scalars(select(ReportContact.email)).one() == "a@b.vn"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"service_code": "congestion", "description": "kẹt xe"}, "location is required"),
        (
            {"service_code": "congestion", "description": "kẹt xe", "lat": "95", "long": "1"},
            "latitude",
        ),
        (
            {"service_code": "congestion", "description": "kẹt xe", "lat": "x", "long": "1"},
            "not a number",
        ),
        ({"service_code": "congestion", "description": "kẹt xe", "lat": "21"}, "together"),
        ({"service_code": "congestion", "description": "a" * 10_000, **HERE}, "longer than 4000"),
        ({"service_code": "bogus", "description": "kẹt xe", **HERE}, "unknown service_code"),
        ({"description": "kẹt xe", **HERE}, "service_code is required"),
        ({"service_code": "congestion", **HERE}, "description is required"),
    ],
)
def test_bad_input_is_refused_with_reason(env, data, reason):
    make, _, _ = env
    r = _post(make(), data)
    assert r.status_code == 400
    [err] = r.json()
    assert err["code"] == 400 and reason in err["description"]


def test_photo_is_checked_by_content_and_reencoded(env):
    make, sessions, _ = env
    client = make()
    data = {"service_code": "road_hazard", "description": "ổ gà to", **HERE}
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n"
    r = _post(client, data, files={"media": ("photo.jpg", pdf, "image/jpeg")})
    assert r.status_code == 415
    big = _jpeg_with_gps() + b"\x00" * 300
    r = _post(make(max_photo_bytes=200), data, files={"media": ("p.jpg", big, "image/jpeg")})
    assert r.status_code == 413
    photo = _jpeg_with_gps()
    assert b"GPSLatitude" in photo
    r = _post(client, data, files={"media": ("p.bin", photo, "application/octet-stream")})
    assert r.status_code == 201
    with sessions() as s:
        stored = s.scalars(select(ReportMedia)).one()
    assert stored.content.startswith(b"\xff\xd8") and b"GPSLatitude" not in stored.content
    assert (stored.width, stored.height) == (96, 64)


def test_duplicate_is_linked(env):
    make, _, _ = env
    client = make()
    first = _post(client, {"service_code": "signal_fault", "description": "đèn đỏ hư", **HERE})
    ticket = first.json()[0]["service_request_id"]
    near = {"lat": "21.0121", "long": "105.8511"}
    second = _post(client, {"service_code": "signal_fault", "description": "den do hu", **near})
    notice = second.json()[0]["service_notice"]
    assert f"gộp vào phiếu {ticket}" in notice
    dup = second.json()[0]["service_request_id"]
    [req] = client.get(f"/open311/v2/requests/{dup}.json").json()
    assert req["duplicate_of"] == ticket
    far = {"lat": "21.0300", "long": "105.8510"}
    third = _post(client, {"service_code": "signal_fault", "description": "đèn đỏ hư", **far})
    assert "gộp" not in third.json()[0]["service_notice"]


def test_rate_limit(env):
    make, _, _ = env
    client = make(rate_limit=2)
    data = {"service_code": "other", "description": "cho hỏi giờ cấm xe tải", **HERE}
    assert [_post(client, data).status_code for _ in range(3)] == [201, 201, 429]
    assert "too many reports" in _post(client, data).json()[0]["description"]


def test_operator_answer_flows_back_and_listing(env):
    make, sessions, _ = env
    client = make()
    html = "<script>alert(1)</script> kẹt xe"
    ticket = _post(client, {"service_code": "congestion", "description": html, **HERE}).json()[0][
        "service_request_id"
    ]
    service = ReportsService(sessions, CAMERAS, now=lambda: NOW + timedelta(minutes=5))
    service.update_status(ticket, "closed", "Đã phân luồng xong.")
    [req] = client.get(f"/open311/v2/requests/{ticket}.json").json()
    assert (req["status"], req["status_notes"]) == ("closed", "Đã phân luồng xong.")
    assert req["description"] == html  # stored verbatim, rendered as text by clients
    assert req["updated_datetime"].startswith("2026-11-23T01:20")
    listed = client.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in listed] == [ticket]
    assert client.get("/open311/v2/requests.json", params={"status": "open"}).json() == []
    missing = client.get("/open311/v2/requests/PA-999999.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


GPS: dict[int, object] = {1: "N", 2: (21.0, 0.0, 43.2), 3: "E", 4: (105.0, 51.0, 3.6)}


def _jpeg_with_exif_gps(gps: dict[int, object] | None = GPS) -> bytes:
    """A real EXIF JPEG (Pillow): maker, model, serial number and, optionally, a GPS block."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "CamMaker"
    exif[0x0110] = "PhoneModel-X"
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-123456"  # body serial number (Exif IFD)
    if gps:
        exif.get_ifd(0x8825).update(gps)
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (120, 90, 60)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def _stored_exif(sessions, ticket: str) -> tuple[ReportMedia, dict[int, object], dict[int, object]]:
    import io

    from PIL import Image

    with sessions() as s:
        media = s.get(ReportMedia, int(ticket.removeprefix("PA-")))
    with Image.open(io.BytesIO(media.content)) as image:
        exif = image.getexif()
        return media, dict(exif), dict(exif.get_ifd(0x8825))


@pytest.mark.parametrize(
    ("consent", "kept"),
    [(None, False), ("false", False), ("no", False), ("true", True), ("1", True), ("on", True)],
)
def test_photo_location_kept_only_with_consent(env, consent, kept):
    make, sessions, _ = env
    photo = _jpeg_with_exif_gps()
    assert b"CamMaker" in photo and b"SERIAL-123456" in photo
    data = {"service_code": "road_hazard", "description": "ổ gà to", **HERE}
    if consent is not None:
        data["location_consent"] = consent
    r = _post(make(), data, files={"media": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    media, tags, gps = _stored_exif(sessions, r.json()[0]["service_request_id"])
    assert media.location_kept is kept
    for private in (b"CamMaker", b"PhoneModel-X", b"SERIAL-123456"):
        assert private not in media.content  # never kept, consent or not
    if kept:
        assert gps == GPS and set(tags) == {0x8825}  # the GPS block and nothing else
    else:
        assert gps == {} and tags == {} and b"Exif\x00\x00" not in media.content


def test_consent_without_gps_in_photo_keeps_nothing(env):
    make, sessions, _ = env
    data = {"service_code": "road_hazard", "description": "ổ gà to", **HERE}
    data["location_consent"] = "true"
    photo = _jpeg_with_exif_gps(gps=None)
    r = _post(make(), data, files={"media": ("p.jpg", photo, "image/jpeg")})
    media, tags, _ = _stored_exif(sessions, r.json()[0]["service_request_id"])
    assert media.location_kept is False and tags == {}


def test_unreadable_or_non_form_bodies_are_refused_open311_style(env):
    make, _, _ = env
    client = make()
    broken = client.post(
        "/open311/v2/requests.json",
        content=b'--xyz\r\nContent-Disposition: form-data; name="description"\r\n\r\nno end',
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code == 400 and broken.json()[0]["code"] == 400
    as_json = client.post("/open311/v2/requests.json", json={"service_code": "congestion"})
    assert as_json.status_code == 400
    assert "service_code is required" in as_json.json()[0]["description"]


def test_openapi_documents_the_report_form(env):
    make, _, _ = env
    spec = make().get("/openapi.json").json()
    body = spec["paths"]["/open311/v2/requests"]["post"]["requestBody"]["content"]
    for kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = body[kind]["schema"]["properties"]
        assert {"service_code", "description", "lat", "long", "media"} <= set(fields)
        assert "location_consent" in fields


class _Receiver:
    """A dispatch target on loopback: records each JSON body; ``/fail`` answers 500."""

    def __init__(self):
        import http.server
        import threading

        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                bodies.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(500 if self.path == "/fail" else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = _Receiver()
    yield r
    r.close()


def _ticket_row(sessions, ticket):
    from cloud.db import ReportTicket

    with sessions() as s:
        return s.get(ReportTicket, int(ticket.removeprefix("PA-")))


def test_forwarding_is_named_only_when_a_target_exists_and_is_sent(env, receiver):
    make, sessions, _ = env
    targets = {
        "road_hazard": {
            "url": f"{receiver.url}/roads",
            "name_vi": "Đội quản lý đường bộ",
            "name_en": "Road maintenance team",
        },
        "illegal_parking": {
            "kind": "sms_gateway",
            "url": f"{receiver.url}/sms",
            "name_vi": "Tổ trật tự đô thị",
            "name_en": "Urban order team",
            "recipient": "+84900000000",
        },
        "dangerous_driving": {
            "url": f"{receiver.url}/fail",
            "name_vi": "Đội CSGT",
            "name_en": "Traffic police",
            "attempts": 1,
        },
    }
    client = make(dispatch=targets)
    tree = _post(
        client, {"service_code": "other", "description": "cây đổ chắn ngang đường", **HERE}
    )
    notice = tree.json()[0]["service_notice"]
    assert "đang được chuyển tới Đội quản lý đường bộ" in notice
    jam = _post(client, {"service_code": "other", "description": "kẹt xe cứng ngắc", **HERE})
    assert "hàng chờ của Trung tâm điều hành" in jam.json()[0]["service_notice"]
    assert "chuyển tới" not in jam.json()[0]["service_notice"]
    park = _post(client, {"service_code": "other", "description": "oto dau tren via he", **HERE})
    wrong = _post(client, {"service_code": "other", "description": "xe di nguoc chieu", **HERE})
    client.service.wait_dispatched()
    paths = [path for path, _ in receiver.bodies]
    assert sorted(paths) == ["/fail", "/roads", "/sms"]  # nothing for the jam
    body = dict(receiver.bodies)
    ticket = tree.json()[0]["service_request_id"]
    assert (body["/roads"]["ticket"], body["/roads"]["category"]) == (ticket, "road_hazard")
    assert body["/roads"]["reply"] == notice and "email" not in body["/roads"]
    assert body["/sms"]["to"] == "+84900000000" and body["/sms"]["message"].startswith("[PA-")
    assert _ticket_row(sessions, ticket).dispatch_status == "sent"
    assert _ticket_row(sessions, park.json()[0]["service_request_id"]).dispatch_status == "sent"
    assert _ticket_row(sessions, wrong.json()[0]["service_request_id"]).dispatch_status == "failed"
    assert _ticket_row(sessions, jam.json()[0]["service_request_id"]).dispatch_status is None


def test_duplicates_by_meaning_keep_different_hazards_apart(env):
    make, _, _ = env
    client = make()
    tree = _post(
        client, {"service_code": "other", "description": "cây đổ chắn ngang đường", **HERE}
    )
    tree_ticket = tree.json()[0]["service_request_id"]
    near = {"lat": "21.0121", "long": "105.8511"}
    hole = _post(client, {"service_code": "other", "description": "ổ gà to giữa đường", **near})
    assert "gộp" not in hole.json()[0]["service_notice"]  # a pothole is not the fallen tree
    again = _post(
        client, {"service_code": "other", "description": "cay nga giua duong, xe ko qua dc", **near}
    )
    assert f"gộp vào phiếu {tree_ticket}" in again.json()[0]["service_notice"]
    hole2 = _post(client, {"service_code": "road_hazard", "description": "o ga sau lam", **near})
    hole_ticket = hole.json()[0]["service_request_id"]
    assert f"gộp vào phiếu {hole_ticket}" in hole2.json()[0]["service_notice"]
