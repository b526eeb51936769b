"""`traffic-monitor demo`: real Mosquitto, real edge pipeline on the shared video, real API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.browser.demo_page import check_demo_page
from tests.conftest import require_shared
from traffic_monitor.net import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_serves_events_from_the_edge_and_stops_on_ctrl_c(tmp_path: Path):
    if not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("Mosquitto is not installed")
    require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    require_shared("models", "yolov8n.onnx")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "traffic_monitor", "demo", "--port", str(port),
         "--workdir", str(tmp_path / "demo")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in text
        password = re.search(r"admin login: admin / (\S+)", text)
        assert password, text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            res = client.post(
                "/api/auth/login", json={"username": "admin", "password": password.group(1)}
            )
            assert res.status_code == 200
            headers = {"Authorization": f"Bearer {res.json()['token']}"}
            items: list[dict[str, object]] = []
            deadline = time.monotonic() + 120
            while not items and time.monotonic() < deadline:
                items = client.get("/api/events", headers=headers).json()["items"]
                time.sleep(1.0)
            assert items, "no event from the edge pipeline reached the aggregator"
            # one identity: the scene's site, the demo's node, as the camera registry has them
            assert items[0]["site_id"] == "da-nang-nga-ba-hue"
            assert items[0]["node_id"] == "demo-node"
            cams = client.get("/api/cameras", headers=headers).json()
            assert any(c["lat"] == 16.0614 and c["lon"] == 108.1722 for c in cams), cams
            report = {"service_code": "congestion", "description": "kẹt xe ở ngã ba Huế"}
            report |= {"lat": "16.0615", "long": "108.1723"}
            created = client.post("/open311/v2/requests.json", data=report)
            assert created.status_code == 201, created.text
            assert "Ngã ba Huế" in created.json()[0]["service_notice"]  # the registered camera
        # the page and /docs in Chromium: no request leaves the machine (tests/browser)
        check_demo_page(f"http://127.0.0.1:{port}", password.group(1))
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "demo stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
