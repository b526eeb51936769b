"""An operator clicks an alert and sees its blurred evidence image, through the real path.

Every step is the production one, as a process of its own: ``traffic-monitor edge run`` on
the shared overpass clip (real detector, tracker and rules, evidence encoded and blurred on
the box) publishing over MQTT through its durable outbox → a real Mosquitto →
``traffic-monitor cloud ingest`` (the image stored under its event) → ``traffic-monitor cloud
serve`` → Debian's Chromium. The scene is made for the test so that alerts certainly happen:
both carriageways' directions are reversed, so every vehicle is driving the wrong way (13
alerts on the clip at 10 frames/s with YOLO11n at 320, the cheap model). Checked: the image
appears on the alert card, it is the stored image of an alert that says it is blurred, the
view is audited, a viewer gets 403, and no node-local path travels with the events.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from sqlalchemy import select

from cloud.db import AuditRecord, Role
from cloud.migrations import upgrade
from cloud.services.accounts import create_user
from cloud.store import EventRecord, EventStore, SnapshotRecord
from tests.api.conftest import PASSWORD
from tests.browser.test_alert_view import ARTIFACTS, CHROMIUM, chromium, loaded_width
from tests.conftest import require_shared
from tests.transport.conftest import Mosquitto, wait_for
from traffic_monitor.net import free_port, wait_port

REPO = Path(__file__).resolve().parents[2]
CAMERA, SITE, NODE = "evidence-cam", "evidence-site", "evidence-node"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # a loaded machine: 4 processes


def _scene(video: Path, model: Path) -> dict[str, Any]:
    """The overpass camera with both carriageways reversed: every vehicle is driving the wrong
    way (alerts with evidence, certainly)."""
    return {
        "camera": {"id": CAMERA, "site": SITE, "name": "evidence path test"},
        "source": {"uri": str(video), "max_fps": 10},
        "detector": {
            "model": str(model),
            "confidence": 0.25,
            "classes": ["person", "bicycle", "car", "motorcycle", "bus", "truck"],
        },
        "lanes": [
            {
                "name": "towards_reversed",
                "polygon": [[330, 185], [380, 185], [425, 480], [0, 480], [0, 330], [200, 262]],
                "direction": [[220, 450], [330, 250]],
            },
            {
                "name": "away_reversed",
                "polygon": [[392, 185], [450, 185], [550, 245], [854, 335], [854, 480], [440, 480]],
                "direction": [[460, 250], [600, 450]],
            },
        ],
        "rules": {"wrong_way": {}},
    }


@dataclass
class Path3:
    """The three server-side processes and the page's address."""

    base: str
    store: EventStore
    logs: Path


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "traffic_monitor", *cmd], cwd=REPO, stdout=out, stderr=out
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def system(tmp_path: Path) -> Iterator[Path3]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    video = require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    model = require_shared("models", "yolo11n_320.onnx")
    broker = Mosquitto(tmp_path / "broker").start()
    (tmp_path / "scene.yaml").write_text(yaml.safe_dump(_scene(video, model)))
    mqtt = {
        "port": broker.port,
        "site_id": SITE,
        "node_id": NODE,
        "outbox_path": str(tmp_path / "outbox.sqlite3"),
        "close_timeout_s": 300,  # it exits once the aggregator has confirmed everything
    }
    run = {"cameras": ["scene.yaml"], "transport": {"type": "mqtt", "mqtt": mqtt}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    database = f"sqlite:///{tmp_path / 'aggregator.sqlite3'}"
    store = EventStore(database)
    upgrade(store)
    with store.session() as db:
        for role in (Role.OPERATOR, Role.VIEWER):
            create_user(db, role.value, PASSWORD, role)
        db.commit()
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    serve = ["cloud", "serve", "--database-url", database, "--port", str(port)]
    ingest = ["cloud", "ingest", "--port", str(broker.port), "--database-url", database]
    procs = [
        _start([*serve, "--camera-config", str(tmp_path / "run.yaml")], logs / "serve.log"),
        _start([*ingest, "--client-id", "agg-evidence"], logs / "ingest.log"),
    ]
    try:
        wait_port(port, 300)
        wait_for(lambda: "subscribed to" in (logs / "ingest.log").read_text(), 300, "ingest")
        node = _start(["edge", "run", str(tmp_path / "run.yaml")], logs / "edge.log")
        procs.append(node)
        assert node.wait(timeout=1800) == 0, (logs / "edge.log").read_text()[-3000:]
        yield Path3(f"http://127.0.0.1:{port}", store, logs)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        broker.kill(signal.SIGTERM)
        store.dispose()


def _login(page: Any, base: str, user: str) -> None:
    page.goto(base + "/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#board:not([hidden])")


def _stored(store: EventStore) -> tuple[list[EventRecord], list[SnapshotRecord]]:
    with store.session() as db:
        return list(db.scalars(select(EventRecord))), list(db.scalars(select(SnapshotRecord)))


def test_operator_clicks_an_alert_and_sees_its_blurred_evidence(system: Path3):
    from playwright.sync_api import APIResponse, Route, expect

    events, snapshots = _stored(system.store)
    alerts = [e for e in events if e.type == "wrong_way" and e.phase == "start"]
    assert alerts, "the reversed lanes raised no wrong-way alert"
    assert {(e.site_id, e.node_id, e.camera_id) for e in events} == {(SITE, NODE, CAMERA)}
    assert all("evidence_path" not in e.payload.get("attributes", {}) for e in events)
    by_event = {str(s.event_id): s for s in snapshots if s.kind == "snapshot"}
    assert {str(e.event_id) for e in alerts if e.payload["evidence"]["snapshot"]} <= set(by_event)
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        served: dict[str, APIResponse] = {}  # event id in the URL -> what the server sent

        def keep(route: Route) -> None:  # the page's own request, passed through as is
            response = route.fetch()
            served[route.request.url.split("/")[-3]] = response
            route.fulfill(response=response)

        page.route(re.compile(r"/evidence/(snapshot|crop)$"), keep)
        _login(page, system.base, "operator")
        card = page.locator("[data-alert]", has_text="Đi ngược chiều").first  # wrong way
        expect(card).to_contain_text("evidence path test", timeout=30_000)  # the camera
        image = card.locator("img.thumb")
        expect(image).to_be_visible(timeout=30_000)
        image.click()  # the operator opens the image
        expect(image).to_have_class(re.compile(r"\bbig\b"))
        loaded_width(image)
        alert_id = card.get_attribute("data-alert")
        listed = page.evaluate("fetch('/api/alerts').then(r => r.json())")
        latest = next(a["latest_event_id"] for a in listed if str(a["id"]) == alert_id)
        response = served[latest]
        assert response.status == 200
        event_id = response.headers["x-event-id"]  # the incident's start event
        stored = by_event[event_id]
        assert response.body() == stored.content  # the image that came through MQTT
        decoded = cv2.imdecode(np.frombuffer(stored.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.evaluate("i => i.naturalWidth") == decoded.shape[1]
        origin = next(e for e in events if str(e.event_id) == event_id)
        assert origin.payload["evidence"]["blurred"] is True  # blurred on the box
        assert errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "evidence_path.png"), full_page=True)
        (ARTIFACTS / "evidence_path.jpg").write_bytes(stored.content)

        viewer = browser.new_page()
        _login(viewer, system.base, "viewer")
        vcard = viewer.locator("[data-alert]", has_text="Đi ngược chiều").first
        expect(vcard).to_contain_text("evidence path test", timeout=30_000)
        assert vcard.locator("img").count() == 0
        url = f"/api/events/{event_id}/evidence/snapshot"
        assert viewer.evaluate(f"fetch('{url}').then(r => r.status)") == 403
    with system.store.session() as db:
        views = db.scalars(select(AuditRecord).where(AuditRecord.action == "evidence.view")).all()
    assert views and {v.actor for v in views} == {"operator"}  # every view audited, none 403'd
    assert f"event:{event_id}" in {v.target for v in views}
