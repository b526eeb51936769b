"""The operations view in Debian's Chromium, fed by the real edge publisher.

An event published by the edge's MQTT publisher (``edge/transport/publisher.py``, durable
outbox) goes through a real Mosquitto to the aggregator's consumer (``cloud/ingest``), which
stores it; the page shows it live. Then: acknowledge, audit, evidence for the operator, none
for the viewer, the camera page (state from the node's birth message, latest snapshot), and a
citizen report with ``<script>`` in its text shown as text and answered by the operator.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from cloud.api import ApiSettings, create_app
from cloud.db import Role
from cloud.ingest import Ingestor
from cloud.migrations import upgrade
from cloud.services.accounts import create_user
from cloud.store import EventStore, SnapshotRecord
from cloud.store.cameras import CameraPosition, upsert_cameras
from edge.transport import MqttPublisher
from tests.api.conftest import PASSWORD
from tests.events import ago, make_event
from tests.transport.conftest import Mosquitto, wait_for
from tests.transport.helpers import ingestor, publisher
from traffic_monitor.contract import Event, EventType, SnapshotKind
from traffic_monitor.net import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCRIPT_RULE = "<script>window.__pwned=1</script>"
SCRIPT_REPORT = "<img src=x onerror=window.__pwned=2> xe đi ngược chiều ở cầu vượt"
CAMERA = CameraPosition(
    camera_id="cam-live", site_id="hcm-q1", name="Ngã ba Huế", lat=16.0614, lon=108.1722
)


@dataclass
class System:
    """The aggregator's web server plus the edge publisher and consumer around a broker."""

    base: str
    store: EventStore
    edge: MqttPublisher
    consumer: Ingestor


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    broker = Mosquitto(tmp_path / "broker").start()
    store = EventStore(f"sqlite:///{tmp_path / 'web.sqlite3'}")
    upgrade(store)
    with store.session() as db:
        for role in Role:
            create_user(db, role.value, PASSWORD, role)
        upsert_cameras(db, [CAMERA])
        db.commit()
    consumer = ingestor(broker.port, store)
    consumer.start()
    edge = MqttPublisher(
        publisher(broker.port, tmp_path / "outbox.sqlite3", node="node-1").config,
        cameras=[CAMERA.camera_id],
    )
    edge.start()
    app = create_app(ApiSettings(live_poll_s=0.1), store)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        wait_for(lambda: consumer.connected and edge.connected, 10, "MQTT connections")
        yield System(f"http://127.0.0.1:{port}", store, edge, consumer)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        edge.close()
        consumer.stop()
        broker.kill()
        store.dispose()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright, headless, closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def loaded_width(image) -> int:
    """The natural width of an ``<img>`` once the browser has loaded and decoded it.

    Polls (Playwright's assertion finds the element again each time), where ``img.decode()``
    fails when a card's refresh moves the element while it decodes.
    """
    from playwright.sync_api import expect

    expect(image).not_to_have_js_property("naturalWidth", 0, timeout=25_000)
    return int(image.evaluate("i => i.naturalWidth"))


def _real_jpeg() -> bytes:
    import cv2
    import numpy as np

    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :32] = (0, 0, 255)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data.tobytes())


def _login(page, base: str, user: str) -> None:
    page.goto(base + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#board:not([hidden])")


def _has_snapshot(store: EventStore, event: Event) -> bool:
    with store.session() as db:
        return db.get(SnapshotRecord, (event.event_id, "snapshot")) is not None


def _report(base: str) -> str:
    data = {"service_code": "dangerous_driving", "description": SCRIPT_REPORT}
    data |= {"lat": "16.0616", "long": "108.1724", "email": "dan@example.vn"}
    res = httpx.post(base + "/open311/v2/requests.json", data=data)
    assert res.status_code == 201, res.text
    return str(res.json()[0]["service_request_id"])


def test_operator_sees_live_alert_acknowledges_and_viewer_has_no_evidence(system: System):
    from playwright.sync_api import Dialog, expect

    base = system.base
    with chromium() as browser:
        page = browser.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _login(page, base, "operator")
        expect(page.locator("#live-dot.on")).to_be_visible(timeout=10_000)
        assert page.locator("[data-alert]").count() == 0

        ev = make_event(
            camera_id="cam-live",
            node_id="node-1",
            rule=SCRIPT_RULE,
            time=ago(1),
            evidence={"snapshot": True},  # as the edge says of an event it sends an image for
        )
        # through the edge's durable outbox, Mosquitto and the consumer into the store;
        # the count is info: statistics only, no card
        system.edge.publish(ev)
        system.edge.publish_snapshot(ev, SnapshotKind.SNAPSHOT, _real_jpeg())
        system.edge.publish(
            make_event(EventType.COUNT, camera_id="cam-live", node_id="node-1", time=ago(5))
        )
        card = page.locator("[data-alert]").first
        expect(card.locator(".where")).to_contain_text("Ngã ba Huế", timeout=5_000)
        assert system.store.event_ids() and ev.event_id in system.store.event_ids()
        expect(card.locator(".rule")).to_contain_text(SCRIPT_RULE)  # shown as text
        assert page.evaluate("window.__pwned") is None and dialogs == []
        expect(card.locator(".state")).to_have_text("Mới")  # Vietnamese by default
        expect(card.locator(".type")).to_have_text("Đi ngược chiều")

        card.locator("[data-action=acknowledge]").click()
        expect(card.locator(".state")).to_have_text("Đã xác nhận")
        expect(page.locator("#audit")).to_contain_text("operator xác nhận")
        wait_for(lambda: _has_snapshot(system.store, ev), 10, "the stored snapshot")
        # the evidence shows inline once it has arrived (the page asks again, 10 s apart)
        expect(card.locator("img.thumb")).to_be_visible(timeout=25_000)
        assert loaded_width(card.locator("img.thumb")) == 64
        # the operator enlarges it; the card refreshing (a new event, the camera list, a
        # language change) must not shrink it back or restart its loading
        card.locator("img.thumb").click()
        card.locator("img.thumb").evaluate("i => { i.dataset.seen = 'yes'; }")
        page.evaluate("() => { for (const a of cards.values()) renderCard(a); }")
        expect(card.locator("img.thumb")).to_have_class(re.compile(r"\bbig\b"))
        assert card.locator("img.thumb").get_attribute("data-seen") == "yes"
        # a refresh while an image is still being fetched shows "loading", never a broken
        # image (it used to draw <img src="null"> and ask the server for /null)
        shown = page.evaluate(
            """() => {
              const a = [...cards.values()][0], url = thumbs.get(a.latest_event_id);
              const img = thumbImgs.get(a.latest_event_id);
              thumbs.set(a.latest_event_id, null); thumbImgs.delete(a.latest_event_id);
              renderCard(a);
              const html = document.querySelector('[data-alert="' + a.id + '"] .evidence')
                .innerHTML;
              thumbs.set(a.latest_event_id, url); thumbImgs.set(a.latest_event_id, img);
              renderCard(a);
              return html;
            }"""
        )
        assert "<img" not in shown and "null" not in shown, shown
        assert page.locator("#login").is_hidden()

        # the camera page: placed by its registered position, state from the node's birth
        # message, counts chart, latest snapshot (operator)
        wait_for(lambda: len(system.store.event_ids()) == 2, 10, "the count event")
        page.evaluate("() => refreshCameras()")
        page.locator("[data-camera=cam-live]").click()
        expect(page.locator("#camera-state")).to_contain_text("trực tuyến")
        expect(page.locator("#camera-state")).to_contain_text("16.06140, 108.17220")
        page.wait_for_function("() => charts.has('counts-chart')")
        totals = page.evaluate(
            "() => charts.get('counts-chart').data.datasets"
            ".map(d => [d.label, d.data.reduce((a, b) => a + b, 0)])"
        )
        assert totals == [["ô tô, chiều vào", 12]]
        expect(page.locator("#camera-image")).to_be_visible()
        assert loaded_width(page.locator("#camera-image")) == 64

        # a citizen report: text with markup shown as text, camera evidence, answer
        ticket = _report(base)
        report = page.locator(f"[data-report='{ticket}']")
        expect(report.locator(".text")).to_have_text(SCRIPT_REPORT, timeout=10_000)
        expect(report.locator(".meta")).to_contain_text("lái xe nguy hiểm")
        expect(report.locator(".evidence")).to_contain_text("Ngã ba Huế · Đi ngược chiều")
        expect(report.locator(".contact")).to_contain_text("dan@example.vn")
        assert report.locator("img").count() == 0
        assert page.evaluate("window.__pwned") is None and dialogs == []
        report.locator("[data-action=report-evidence]").click()
        expect(report.locator(".evidence img")).to_be_visible()
        report.locator("select[name=status]").select_option("closed")
        report.locator("textarea[name=notes]").fill("Đã chuyển CSGT xử lý.")
        report.locator("[data-action=report-save]").click()
        expect(report.locator(".notes")).to_contain_text("Đã chuyển CSGT xử lý.")
        [public] = httpx.get(f"{base}/open311/v2/requests/{ticket}.json").json()
        assert (public["status"], public["status_notes"]) == ("closed", "Đã chuyển CSGT xử lý.")
        assert errors == []

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "alert_view.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        page.select_option("#lang", "en")
        expect(card.locator(".state")).to_have_text("Acknowledged")
        expect(report.locator(".meta")).to_contain_text("dangerous driving")

        viewer = browser.new_page()
        _login(viewer, base, "viewer")
        vcard = viewer.locator("[data-alert]").first
        expect(vcard.locator(".where")).to_contain_text("Ngã ba Huế")
        assert vcard.locator("img").count() == 0
        assert vcard.locator("[data-action=acknowledge]").count() == 0
        vreport = viewer.locator(f"[data-report='{ticket}']")
        expect(vreport.locator(".text")).to_have_text(SCRIPT_REPORT, timeout=10_000)
        assert vreport.locator(".contact").count() == 0
        assert vreport.locator("textarea").count() == 0
        for url in (
            f"/api/events/{ev.event_id}/evidence/snapshot",
            "/api/cameras/cam-live/snapshot",
        ):
            assert viewer.evaluate(f"fetch('{url}').then(r => r.status)") == 403
        answer = (
            f"fetch('/api/reports/{ticket}/status', {{method: 'POST', "
            "headers: {'Content-Type': 'application/json'}, body: '{\"status\": \"open\"}'})"
            ".then(r => r.status)"
        )
        assert viewer.evaluate(answer) == 403


CLOSED_KEPT = 100
"""``MAX_CLOSED_CARDS`` of ``cloud/web/app.js``: closed cards a page keeps."""


def _operator_client(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base)
    res = client.post("/api/auth/login", json={"username": "operator", "password": PASSWORD})
    assert res.status_code in (200, 204), res.text
    return client


def _alerts_of(client: httpx.Client, rules: set[str]) -> dict[str, dict[str, object]]:
    found = client.get("/api/alerts", params={"limit": 500}).json()
    return {a["rule"]: a for a in found if a["rule"] in rules}


def test_a_page_left_open_keeps_every_open_card_and_only_the_latest_closed_ones(system: System):
    """Cards, their events and images stay bounded however many alerts a day brings.

    An open card older than the latest 100 alerts is still shown (the page used to load only
    the latest 100 of any state, so it was never shown); closed cards beyond the latest 100
    are forgotten with their measurement and image, live as at load.
    """
    from playwright.sync_api import expect

    publish = system.edge.publish
    publish(make_event(camera_id="cam-live", node_id="node-1", rule="old_open", time=ago(90)))
    closed = [f"closed_{i:03d}" for i in range(CLOSED_KEPT + 5)]
    for i, rule in enumerate(closed):  # closed_000 is the oldest
        publish(make_event(camera_id="cam-live", node_id="node-1", rule=rule, time=ago(60 - i / 4)))
    wanted = {"old_open", *closed}
    with closing(_operator_client(system.base)) as client:
        wait_for(lambda: len(_alerts_of(client, wanted)) == len(wanted), 30, "the alert cards")
        alerts = _alerts_of(client, wanted)
        for rule in closed:  # through the API the page's buttons call
            res = client.post(f"/api/alerts/{alerts[rule]['id']}/resolve", json={})
            assert res.status_code == 200, res.text

    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _login(page, system.base, "operator")
        expect(page.locator("#live-dot.on")).to_be_visible(timeout=10_000)
        cards = page.locator("[data-alert]")
        expect(cards).to_have_count(CLOSED_KEPT + 1)
        old = page.locator(f"[data-alert='{alerts['old_open']['id']}']")
        expect(old.locator(".state")).to_have_text("Mới")
        assert cards.first.get_attribute("data-alert") == str(alerts["old_open"]["id"])
        oldest_kept = alerts[closed[5]]
        expect(page.locator(f"[data-alert='{oldest_kept['id']}']")).to_have_count(1)
        expect(page.locator(f"[data-alert='{alerts[closed[4]]['id']}']")).to_have_count(0)

        # live: a new alert arrives and the operator resolves it; the oldest closed card
        # goes, with its event and image
        publish(make_event(camera_id="cam-live", node_id="node-1", rule="fresh", time=ago(0)))
        expect(cards).to_have_count(CLOSED_KEPT + 2, timeout=10_000)
        fresh = page.locator("[data-alert]", has=page.locator(".rule", has_text="fresh"))
        expect(fresh.locator("[data-action=resolve]")).to_be_visible()
        fresh.locator("[data-action=resolve]").click()
        expect(cards).to_have_count(CLOSED_KEPT + 1)
        expect(page.locator(f"[data-alert='{oldest_kept['id']}']")).to_have_count(0)
        gone = oldest_kept["latest_event_id"]
        page.wait_for_function(
            "([id, n]) => cards.size === n && !events.has(id) && !thumbs.has(id)",
            arg=[gone, CLOSED_KEPT + 1],
        )
        sizes = page.evaluate("() => [events.size, thumbs.size, thumbTries.size, thumbImgs.size]")
        assert max(sizes) <= CLOSED_KEPT + 1, sizes
        assert errors == []


def test_a_camera_status_card_says_in_words_what_the_supervisor_found(system: System):
    """An overloaded camera, as the edge's supervisor words it, reaches the page in words.

    The event is made by the same calls as ``CameraUnit`` makes (``OverloadWatch`` judges the
    capture's counters, ``status_event`` words it), then goes through the edge publisher,
    Mosquitto and the consumer; the card used to say only "camera status". The first fetch of
    its event fails (the card gets it on the page's next retry), and the page asks for no
    evidence image, since the event says none was made (it used to ask 12 times).
    """
    from playwright.sync_api import expect

    from edge.pipeline.supervision import OVERLOAD, CameraState, OverloadWatch, status_event
    from tests.analytics.factories import scene

    watch = OverloadWatch(window_s=30, drop_share=0.05, max_fps=10)
    for second in range(32):  # 10 frames kept a second, 4.5 of them dropped
        watch.update(float(second), 10 * second, 9 * second // 2)
    assert watch.reason is not None
    camera = scene(camera={"id": CAMERA.camera_id, "site": CAMERA.site_id})
    event = status_event(
        camera, CameraState.DEGRADED, watch.reason, "node-1", watch.measured, stage=OVERLOAD
    )
    assert event.measurements["max_fps"] == 10
    event_fetches: list[str] = []
    image_asks: list[str] = []

    def first_event_fetch_fails(route) -> None:
        event_fetches.append(route.request.url)
        if len(event_fetches) == 1:
            route.abort()
        else:
            route.continue_()

    def on_request(request) -> None:
        if "/evidence/" in request.url:
            image_asks.append(request.url)

    with chromium() as browser:
        page = browser.new_page()
        page.on("request", on_request)
        page.route(f"**/api/events/{event.event_id}", first_event_fetch_fails)
        _login(page, system.base, "operator")
        expect(page.locator("#live-dot.on")).to_be_visible(timeout=10_000)
        system.edge.publish(event)
        card = page.locator("[data-alert]").first
        expect(card.locator(".type")).to_have_text("Trạng thái camera", timeout=10_000)
        measure = card.locator(".measure")
        expect(measure).to_contain_text("hoạt động suy giảm · máy xử lý quá tải", timeout=30_000)
        assert len(event_fetches) >= 2  # the failed fetch was asked again
        expect(card.locator(".evidence")).to_have_text("Không có ảnh bằng chứng")
        assert image_asks == []
        expect(measure).to_contain_text("xử lý 5,5/10 khung hình/giây, bỏ 45 % số khung hình")
        expect(card.locator(".rule")).to_have_text("giám sát hoạt động camera")
        page.select_option("#lang", "en")
        expect(measure).to_contain_text(
            "degraded · the box is overloaded · processing 5.5 of 10 frames/s, 45% of "
            "frames dropped"
        )
