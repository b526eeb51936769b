"""The alert view in Debian's Chromium: live card, acknowledge, audit, viewer without evidence."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from cloud.api import ApiSettings, create_app
from cloud.api.accounts import create_user
from cloud.api.models import Role
from cloud.store import EventStore
from tests.api.conftest import PASSWORD, Backend, make_event
from traffic_monitor.contract import Event, EventType

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Backend]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    store = EventStore(f"sqlite:///{tmp_path / 'web.sqlite3'}")
    store.create()
    with store.session() as db:
        for role in Role:
            create_user(db, role.value, PASSWORD, role)
        db.commit()
    app = create_app(ApiSettings(live_poll_s=0.1), store)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    from fastapi.testclient import TestClient

    try:
        yield f"http://127.0.0.1:{port}", Backend(store=store, client=TestClient(app), api_key="")
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        store.dispose()


def _real_jpeg() -> bytes:
    import cv2
    import numpy as np

    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :32] = (0, 0, 255)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data.tobytes())


def _recent_count() -> Event:
    return Event(
        camera_id="cam-live",
        site_id="hcm-q1",
        node_id="node-1",
        time=datetime.now(UTC) - timedelta(minutes=5),
        type=EventType.COUNT,
        measurements={"count": 12, "car_in": 12},
    )


def _login(page, base: str, user: str) -> None:
    page.goto(base + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#board:not([hidden])")


def test_operator_sees_live_alert_acknowledges_and_viewer_has_no_evidence(server):
    from playwright.sync_api import Dialog, expect, sync_playwright

    base, backend = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
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

            ev = make_event(camera="cam-live", rule=SCRIPT_RULE)
            # stored as the ingestor stores it; the count is info: statistics only, no card
            backend.add_events(ev, snapshot=True, content=_real_jpeg())
            backend.add_events(_recent_count())
            card = page.locator("[data-alert]").first
            expect(card).to_contain_text("cam-live", timeout=5_000)
            expect(card.locator(".rule")).to_contain_text(SCRIPT_RULE)  # shown as text
            assert page.evaluate("window.__pwned") is None and dialogs == []
            expect(card.locator(".state")).to_contain_text("mới")  # Vietnamese by default

            card.locator("[data-action=acknowledge]").click()
            expect(card.locator(".state")).to_contain_text("đã xác nhận")
            expect(page.locator("#audit")).to_contain_text("operator alert.acknowledge")
            card.locator("[data-action=evidence]").click()
            expect(card.locator("img")).to_be_visible()
            card.locator("img").evaluate("i => i.decode()")
            assert card.locator("img").evaluate("i => i.naturalWidth") == 64
            assert page.locator("#login").is_hidden()
            page.locator("[data-camera=cam-live]").click()
            assert errors == []
            expect(page.locator("#chart rect")).to_have_count(1)
            expect(page.locator("#chart")).to_contain_text(" 12")
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "alert_view.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            page.select_option("#lang", "en")
            expect(card.locator(".state")).to_contain_text("acknowledged")

            viewer = browser.new_page()
            _login(viewer, base, "viewer")
            vcard = viewer.locator("[data-alert]").first
            expect(vcard).to_contain_text("cam-live")
            assert vcard.locator("[data-action=evidence]").count() == 0
            assert vcard.locator("[data-action=acknowledge]").count() == 0
            url = f"/api/events/{ev.event_id}/evidence/snapshot"
            status = viewer.evaluate(f"fetch('{url}').then(r => r.status)")
            assert status == 403
        finally:
            browser.close()
