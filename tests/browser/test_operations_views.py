"""Every view of the operations centre in Chromium, in Vietnamese and in English.

The aggregator is set up as the demo sets it up (cameras registered from the demo's scene
config, no tile server), and filled through the ingest's own path (``cloud.ingest.validate``
then ``EventStore.write``, as the consumer does) with a day of count events and the incidents
an operator meets. Every request the browser makes is recorded: none may leave the machine.
Screenshots of each view go to ``test-artifacts/`` (look at them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from cloud.api import ApiSettings, create_app
from cloud.api.cli import register_camera_configs
from cloud.db import Role
from cloud.ingest.validate import classify
from cloud.migrations import upgrade
from cloud.services.accounts import create_user
from cloud.services.alerting import AlertGrouper
from cloud.store import EventStore
from cloud.store.cameras import CameraPosition, upsert_cameras
from cloud.store.store import Batch
from tests.api.conftest import PASSWORD
from tests.browser.test_alert_view import ARTIFACTS, CHROMIUM, chromium, loaded_width
from tests.events import ago, make_event
from traffic_monitor.contract import (
    Event,
    EventPhase,
    EventType,
    NodeStatus,
    Severity,
    SnapshotKind,
)
from traffic_monitor.contract.topics import event_topic, snapshot_topic, status_topic
from traffic_monitor.net import free_port
from traffic_monitor.shared_data import shared_path

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "configs" / "vn_nga_ba_hue_overpass.yaml"
CAM = "nga-ba-hue-overpass"
SITE, NODE = "demo", "node-1"
OTHER = CameraPosition(
    camera_id="dien-bien-phu-01", site_id=SITE, name_vi="Điện Biên Phủ – Hà Huy Tập",
    name_en="Dien Bien Phu at Ha Huy Tap", lat=16.0641, lon=108.1751,
)  # fmt: skip
EMERGENCY_TEXT = (
    "Tai nạn xe máy với ô tô tải ở chân cầu vượt Ngã ba Huế, một người bị thương chảy nhiều "
    "máu, nằm bất tỉnh"
)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass
class Site:
    """The aggregator's web server with a filled store."""

    base: str
    store: EventStore
    speeding: Event


def _frame_jpeg() -> bytes:
    """A real frame of the demo's clip (else a drawn one), as the edge's evidence JPEG."""
    import cv2
    import numpy as np

    video = shared_path("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        frame = np.full((480, 854, 3), 90, np.uint8)
        cv2.rectangle(frame, (300, 200), (420, 300), (40, 40, 200), -1)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(data.tobytes())


def _event(minutes_ago: float, type_: EventType, **fields: object) -> Event:
    """An event of the demo camera ``minutes_ago``, raised by the rule named after its type."""
    scene = {"camera_id": CAM, "site_id": SITE, "node_id": NODE, "rule": type_.value}
    return make_event(type_, **(scene | {"time": ago(minutes_ago)} | fields))


def _day_of_counts() -> list[Event]:
    """A count event per 15 minutes over the last day: motorbikes dominate, with speeds."""
    out = []
    for i in range(96):
        hour = (datetime.now(UTC) - timedelta(minutes=15 * i + 7)).hour + 7  # local time
        rush = 2.0 if hour % 24 in (7, 8, 17, 18) else 1.0 if 6 <= hour % 24 <= 22 else 0.25
        moto, car = int(160 * rush), int(30 * rush)
        crossings = [
            ("motorcycle", "in", moto),
            ("motorcycle", "out", moto),
            ("car", "in", car),
            ("car", "out", car),
            ("bus", "in", 2),
            ("truck", "out", 2),
        ]
        classes = [{"object_class": c, "direction": d, "count": n} for c, d, n in crossings]
        measures = {
            "count": moto * 2 + car * 2 + 4, "classes": classes,
            "speed_samples": car * 2, "speed_mean_kmh": 38 - 8 * (rush - 1),
            "speed_p50_kmh": 36 - 8 * (rush - 1), "speed_p85_kmh": 47 - 9 * (rush - 1),
        }  # fmt: skip
        attributes = {"line": "towards", "interval_s": 900}
        out.append(
            _event(15 * i + 7, EventType.COUNT, measurements=measures, attributes=attributes)
        )
    return out


def _incidents() -> list[Event]:
    start = {"phase": EventPhase.START}
    return [
        _event(300, EventType.CONGESTION, severity=Severity.MEDIUM, **start,
               measurements={"vehicles": 41, "queue_m": 85, "mean_speed_kmh": 6.5},
               attributes={"level": "jam"}, geometry={"zone": "carriageway_towards"}),
        _event(180, EventType.WRONG_WAY, severity=Severity.HIGH, object_class="motorcycle",
               attributes={"lane": "away"}, geometry={"zone": "away"}),
        _event(95, EventType.STOPPED_VEHICLE, severity=Severity.HIGH, object_class="truck",
               phase=EventPhase.UPDATE, measurements={"duration_s": 135},
               geometry={"zone": "carriageway_away"}),
        _event(40, EventType.PEDESTRIAN_ON_CARRIAGEWAY, severity=Severity.MEDIUM,
               object_class="person", **start, geometry={"zone": "carriageway_towards"}),
        _event(12, EventType.CAMERA_HEALTH, severity=Severity.HIGH, **start,
               attributes={"condition": "blocked"}, camera_id=OTHER.camera_id),
    ]  # fmt: skip


def _speeding() -> Event:
    return _event(
        3, EventType.SPEEDING, severity=Severity.HIGH, object_class="car",
        measurements={"speed_kmh": 67.4, "speed_uncertainty_kmh": 3.1, "limit_kmh": 40},
        geometry={"zone": "carriageway_towards"}, evidence={"snapshot": True},
    )  # fmt: skip


def _ingest(store: EventStore, events: list[Event], speeding: Event) -> None:
    """Through the consumer's own validation into the store, as ``cloud ingest`` does."""
    batch, now = Batch(), datetime.now(UTC)
    for ev in events:
        topic = event_topic(ev.site_id, ev.node_id, ev.camera_id, ev.type.value)
        assert classify(topic, ev.model_dump_json().encode(), now, batch) is None
    jpeg = _frame_jpeg()
    topic = snapshot_topic(SITE, NODE, CAM, speeding.event_id, SnapshotKind.SNAPSHOT)
    assert classify(topic, jpeg, now, batch) is None
    birth = NodeStatus(site_id=SITE, node_id=NODE, online=True, cameras=[CAM])
    assert classify(status_topic(SITE, NODE), birth.model_dump_json().encode(), now, batch) is None
    result = store.write(batch)
    assert result.inserted == len(events) and result.dead_letters == 0
    AlertGrouper(store).after_commit(events)  # the consumer's post-commit step


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One filled aggregator for the module's views (the viewer's checks hold either way)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    store = EventStore(f"sqlite:///{tmp_path_factory.mktemp('ops') / 'ops.sqlite3'}")
    upgrade(store)
    register_camera_configs(store, [DEMO_CONFIG])  # as the demo registers its cameras
    with store.session() as db:
        for role in Role:
            create_user(db, role.value, PASSWORD, role)
        upsert_cameras(db, [OTHER])
        db.commit()
    speeding = _speeding()
    _ingest(store, [*_day_of_counts(), *_incidents(), speeding], speeding)
    app = create_app(ApiSettings(live_poll_s=0.2, open_data_k=5), store)  # demo: no tiles
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield Site(f"http://127.0.0.1:{port}", store, speeding)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        store.dispose()


class Watch:
    """Every request, page error and CSP refusal of a page."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.urls: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda req: self.urls.append(req.url))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if "Security Policy" in msg.text else None,
        )

    def outside(self) -> list[str]:
        """Requests to anything but this machine (blob: and data: never leave it)."""
        return [
            u for u in self.urls
            if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname not in LOOPBACK
        ]  # fmt: skip


def _shot(page, name: str, least: int = 20_000) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > least  # a blank page is a few kB
    return path


def _login(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#board:not([hidden])")


def _report(base: str, text: str, service: str = "other") -> str:
    data = {"service_code": service, "description": text, "lat": "16.0616", "long": "108.1724"}
    res = httpx.post(base + "/open311/v2/requests.json", data=data)
    assert res.status_code == 201, res.text
    return str(res.json()[0]["service_request_id"])


def _beeps(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("Number(document.body.dataset.beeps || 0)"))


def _pinned(page, text: str):  # type: ignore[no-untyped-def]
    """The alert card showing ``text`` now, found again by its id after a language switch."""
    found = page.locator("[data-alert]", has_text=text)
    return page.locator(f"[data-alert='{found.get_attribute('data-alert')}']")


def _chart(page, canvas: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Each dataset of a drawn chart: label, total of its values, values present."""
    return page.evaluate(  # type: ignore[no-any-return]
        f"charts.get('{canvas}').data.datasets.map(d => ({{label: d.label, "
        "total: d.data.reduce((a, b) => a + (b || 0), 0), "
        "n: d.data.filter(v => v !== null).length}))"
    )


def test_operator_board_in_both_languages(site: Site):
    from playwright.sync_api import expect

    ticket = _report(site.base, EMERGENCY_TEXT)
    _report(site.base, "Đèn tín hiệu ở ngã ba Huế bị tắt từ sáng, xe đi lộn xộn", "signal_fault")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        watch = Watch(page)
        _login(page, site.base, "operator")

        # the emergency report is on top, flashing and ringing until someone takes it
        banner = page.locator(f"[data-emergency='{ticket}']")
        expect(banner).to_be_visible(timeout=10_000)
        expect(banner).to_contain_text("KHẨN CẤP")
        expect(banner).to_contain_text("bất tỉnh")
        assert banner.bounding_box()["y"] < page.locator("#alerts").bounding_box()["y"]  # type: ignore[index]
        expect(page.locator("body[data-alarm=on]")).to_have_count(1)
        first = _beeps(page)
        page.wait_for_function(f"() => Number(document.body.dataset.beeps) > {first + 1}")

        # alert cards: type and severity in words, camera and zone names, the measurement
        card = _pinned(page, "Quá tốc độ")
        expect(card.locator(".sev")).to_have_text("Cao")
        expect(card.locator(".where")).to_contain_text("Cầu vượt Ngã ba Huế")
        expect(card.locator(".where")).to_contain_text("lòng đường chiều về phía camera")
        expect(card.locator(".measure")).to_contain_text("ô tô")
        expect(card.locator(".measure")).to_contain_text("67 km/h (giới hạn 40 km/h")
        thumb = card.locator("img.thumb")
        expect(thumb).to_be_visible()
        assert loaded_width(thumb) > 100  # the evidence, inline
        jam = page.locator("[data-alert]", has_text="Ùn tắc")
        expect(jam.locator(".measure")).to_contain_text("hàng xe dài 85 m")
        stopped = page.locator("[data-alert]", has_text="Xe dừng giữa đường")
        expect(stopped.locator(".measure")).to_contain_text("kéo dài 2 phút 15 giây")
        health = _pinned(page, "Sự cố hình ảnh camera")
        expect(health.locator(".where")).to_contain_text("Điện Biên Phủ – Hà Huy Tập")
        expect(health.locator(".measure")).to_contain_text("ống kính bị che")
        body = page.locator("#board").inner_text()
        for raw in ("HIGH", "camera_health", "wrong_way", "nga-ba-hue-overpass @"):
            assert raw not in body, raw

        # the map: the offline road outline, dots by state, open alerts clustered
        assert page.locator("#map svg.roads path").count() >= 2
        expect(page.locator(f"#map [data-camera={CAM}].state-online")).to_be_visible()
        expect(page.locator("#map .cluster").first).to_be_visible()
        page.wait_for_function("() => charts.has('city-chart')")
        city = {d["label"]: d["total"] for d in _chart(page, "city-chart")}
        assert city["Quá tốc độ"] == 1 and city["Ùn tắc"] == 1 and "Đếm lưu lượng" not in city

        # the camera's plots: counts by class and direction, speed P50 / P85
        page.locator(f"#map [data-camera={CAM}]").click()
        expect(page.locator("#camera-title")).to_have_text(
            "Cầu vượt Ngã ba Huế, nhìn dọc tuyến đường"
        )
        expect(page.locator("#camera-state")).to_contain_text("16.06140, 108.17220")
        expect(page.locator("#camera-summary")).to_contain_text("xe/giờ")
        page.wait_for_function("() => charts.has('counts-chart') && charts.has('speed-chart')")
        counts = {d["label"]: d["total"] for d in _chart(page, "counts-chart")}
        assert counts["xe máy, chiều vào"] > counts["ô tô, chiều vào"] > 0
        speeds = {d["label"]: d["n"] for d in _chart(page, "speed-chart")}
        assert speeds["Trung vị (P50)"] >= 90 and speeds["P85"] >= 90
        expect(page.locator("#camera-image")).to_be_visible()
        _shot(page, "ops_vi_emergency_and_board.png")

        # one click each: take the emergency, acknowledge, false alarm with its reason
        banner.locator("[data-action=take-emergency]").click()
        expect(banner).to_contain_text("Đã nhận bởi operator")
        expect(page.locator("body[data-alarm=off]")).to_have_count(1)
        rung = _beeps(page)
        card.locator("[data-action=acknowledge]").click()
        expect(card.locator(".state")).to_have_text("Đã xác nhận")
        expect(page.locator("#audit")).to_contain_text("operator xác nhận")
        pedestrian = _pinned(page, "Người đi bộ dưới lòng đường")
        pedestrian.locator("select[name=reason]").select_option("wrong_class")
        pedestrian.locator("[data-action=false-alarm]").click()
        expect(pedestrian.locator(".state")).to_have_text("Báo nhầm")
        expect(pedestrian.locator(".false-alarm")).to_contain_text("nhầm loại")
        stored = page.evaluate("fetch('/api/false-alarms').then(r => r.json())")
        assert [(f["reason"], f["type"]) for f in stored] == [
            ("wrong_class", "pedestrian_on_carriageway")
        ]
        assert _beeps(page) == rung  # silent once taken
        _shot(page, "ops_vi_after_actions.png")

        # English: the same board in other words and units, camera names in English
        page.select_option("#lang", "en")
        expect(card.locator(".type")).to_have_text("Speeding")
        expect(card.locator(".sev")).to_have_text("High")
        expect(card.locator(".measure")).to_contain_text("67 km/h (limit 40 km/h")
        expect(card.locator(".where")).to_contain_text("Ngã ba Huế overpass")
        expect(card.locator(".where")).to_contain_text("carriageway towards the camera")
        expect(page.locator("#nodes")).to_contain_text("demo/node-1: online")
        expect(page.locator("#audit")).to_contain_text("operator marked a false alarm")
        expect(health.locator(".where")).to_contain_text("Dien Bien Phu at Ha Huy Tap")
        expect(banner).to_contain_text("EMERGENCY")
        expect(page.locator("#camera-summary")).to_contain_text("veh/h")
        expect(pedestrian.locator(".false-alarm")).to_contain_text("wrong class")
        counts = {d["label"]: d["total"] for d in _chart(page, "counts-chart")}
        assert "motorbike, inbound" in counts
        _shot(page, "ops_en_board.png")
        assert watch.errors == []
        assert watch.outside() == []


def test_viewer_sees_no_evidence_and_no_buttons(site: Site):
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        watch = Watch(page)
        page.goto(site.base + "/")
        page.select_option("#lang", "en")
        expect(page.locator("#login button[type=submit]")).to_have_text("Log in")
        _shot(page, "login_en.png", 8_000)
        page.select_option("#lang", "vi")
        expect(page.locator("#login button[type=submit]")).to_have_text("Đăng nhập")
        _shot(page, "login_vi.png", 8_000)
        _login(page, site.base, "viewer")
        card = page.locator("[data-alert]", has_text="Quá tốc độ")
        expect(card.locator(".evidence")).to_contain_text("chỉ dành cho cán bộ điều hành")
        assert card.locator("img").count() == 0 and card.locator("button").count() == 1
        _shot(page, "ops_vi_viewer.png")
        assert watch.errors == [] and watch.outside() == []


def test_open_data_page_and_api_reference_offline(site: Site):
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        watch = Watch(page)
        page.goto(site.base + "/open-data/")  # no login
        expect(page.locator("#sites")).to_contain_text("Cầu vượt Ngã ba Huế")
        expect(page.locator("#sites")).to_contain_text("16,0614")  # Vietnamese decimal comma
        expect(page.locator("#intro")).to_contain_text("nhỏ hơn 5")
        expect(page.locator("#counts")).to_contain_text("xe máy")
        expect(page.locator("#dcat")).to_contain_text("creativecommons.org/licenses/by/4.0")
        expect(page.locator("#dcat")).to_contain_text("Ngưỡng ẩn danh k")
        expect(page.locator("#dcat")).to_contain_text("Thống kê giao thông theo camera")
        expect(page.locator("#dcat")).to_contain_text("hằng ngày")
        page.wait_for_function("() => charts.has('od-counts') && charts.has('od-speeds')")
        # k-anonymity: the 2 buses per interval are below k=5, published empty
        rows = page.evaluate("fetch('/open-data/latest/counts.json').then(r => r.json())")
        assert {r["count"] for r in rows if r["object_class"] == "bus"} == {None}
        assert all(r["count"] is None or r["count"] >= 5 for r in rows)
        assert not any(r["object_class"] == "person" for r in rows)
        labels = {d["label"] for d in _chart(page, "od-counts")}
        assert "xe máy, chiều vào" in labels and not any("xe buýt" in x for x in labels)
        for name in ("counts.csv", "sites.json", "metadata.json"):
            link = page.locator(f"[data-download='{name}']")
            href = link.get_attribute("href")
            res = httpx.get(site.base + str(href))
            assert res.status_code == 200 and res.content, name
        meta = httpx.get(site.base + "/open-data/latest/metadata.json").json()
        spots = {p["dct:identifier"]: p.get("dcat:centroid") for p in meta["dct:spatial"]}
        assert spots[f"{SITE}/{CAM}"] == "POINT(108.1722 16.0614)"
        _shot(page, "open_data_vi.png")
        page.select_option("#lang", "en")
        expect(page.locator("#sites")).to_contain_text("Ngã ba Huế overpass")
        expect(page.locator("#counts")).to_contain_text("motorbike")
        expect(page.locator("#dcat")).to_contain_text("Traffic statistics per camera")
        _shot(page, "open_data_en.png")

        page.goto(site.base + "/docs")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
        expect(page.locator(".swagger-ui")).to_contain_text("/api/plots/city")
        _shot(page, "api_docs.png")
        assert httpx.get(site.base + "/redoc", follow_redirects=False).status_code in (
            302,
            307,
        )
        assert watch.errors == [] and watch.outside() == []
