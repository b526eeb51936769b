"""From a clean clone, as a new user or a new edge box would start.

1. A fresh venv with the project alone (`pip install .`, no extras) runs `traffic-monitor
   --help`, `edge check-config` and `detect` on a shared clip.
2. The README's first command, `bash scripts/demo.sh`, run in the clone with only what it
   installs itself, for a bounded time (`--duration`): while it runs, an operator's API calls
   find events, alerts (no page is open) and the evidence image of every event marked with
   a snapshot, each image a JPEG that came through edge → MQTT → aggregator.

Slow (two installs into fresh venvs); it uses whatever pip cache the machine has.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_shared
from traffic_monitor.net import free_port

REPO = Path(__file__).resolve().parents[1]
DEMO_SECONDS = 240
"""The demo's bounded run; the API checks below finish as soon as they succeed."""


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    require_shared("models", "yolov8n.onnx")
    require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    target = tmp_path_factory.mktemp("clean") / "traffic-monitor"
    _git("clone", "--quiet", "--no-hardlinks", str(REPO), str(target))
    return target


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    return env  # TRAFFIC_MONITOR_SHARED passes through: the clone is not beside ../shared


@pytest.mark.slow
def test_an_edge_box_runs_with_the_runtime_alone(clone: Path, tmp_path: Path) -> None:
    venv = tmp_path / "edge-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, str(clone)], check=True, env=_env(), timeout=1500)
    cli = str(venv / "bin" / "traffic-monitor")
    run = subprocess.run([cli, "--help"], capture_output=True, text=True, env=_env(), check=False)
    assert run.returncode == 0 and "detect" in run.stdout, run.stderr
    config = clone / "configs" / "vn_nga_ba_hue_overpass.yaml"
    check = subprocess.run(
        [cli, "edge", "check-config", str(config), "--output", str(tmp_path / "c.png")],
        capture_output=True, text=True, env=_env(), timeout=600, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    jsonl = tmp_path / "detections.jsonl"
    video = require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    detect = subprocess.run(
        [cli, "-q", "detect", str(video), "--max-fps", "1", "--jsonl", str(jsonl)],
        capture_output=True, text=True, env=_env(), timeout=900, check=False,
    )  # fmt: skip
    assert detect.returncode == 0, detect.stderr
    assert "Traceback" not in detect.stderr
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 15
    assert any('"motorcycle"' in line for line in lines)


class _Demo:
    """`bash scripts/demo.sh` in the clone, its output collected by a thread."""

    def __init__(self, clone: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            ["bash", "scripts/demo.sh", "--port", str(port), "--duration", str(DEMO_SECONDS)],
            cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
        )  # fmt: skip
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text)
            if found:
                return found
            if self.proc.poll() is not None:
                self.reader.join(timeout=30)  # it may still hold the last lines
                found = re.search(pattern, self.text)
                if found:
                    return found
                pytest.fail(
                    f"demo exited ({self.proc.returncode}) before {pattern!r}:\n{self.text}"
                )
            time.sleep(0.5)
        pytest.fail(f"no {pattern!r} from the demo within {timeout:.0f} s:\n{self.text}")


@pytest.fixture
def demo(clone: Path) -> Iterator[tuple[_Demo, int]]:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("Mosquitto is not installed (scripts/system-deps.sh installs it as root)")
    port = free_port()
    running = _Demo(clone, port)
    try:
        yield running, port
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


def _poll(what: str, check: object, deadline: float) -> object:
    """Call ``check`` until it returns something truthy or the demo's time is up."""
    assert callable(check)
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(2.0)
    pytest.fail(f"the demo ran {DEMO_SECONDS} s and the API never showed {what}")


@pytest.mark.slow
def test_the_readme_demo_serves_events_alerts_and_evidence(demo: tuple[_Demo, int]) -> None:
    running, port = demo
    password = running.wait_for(r"admin login: admin / (\S+)", timeout=1500).group(1)
    deadline = time.monotonic() + DEMO_SECONDS
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
        token = api.post("/api/auth/login", json={"username": "admin", "password": password})
        assert token.status_code == 200, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['token']}"

        def events() -> list[dict[str, Any]]:
            return list(api.get("/api/events", params={"limit": 500}).json()["items"])

        def alerts() -> list[dict[str, Any]]:
            return list(api.get("/api/alerts").json())  # a plain list, newest first

        def with_snapshot() -> list[dict[str, Any]]:
            return [e for e in events() if (e["payload"].get("evidence") or {}).get("snapshot")]

        assert _poll("an event", events, deadline)
        assert _poll("an alert", alerts, deadline)
        marked = _poll("an event with a snapshot", with_snapshot, deadline)
        assert isinstance(marked, list)
        for event in with_snapshot():
            url = f"/api/events/{event['event_id']}/evidence/snapshot"
            # An image travels as its own message after its event: wait for it to be stored.
            _poll(f"the image of {event['event_id']}", lambda u=url: api.get(u).is_success,
                  deadline + 60)  # fmt: skip
            image = api.get(url)
            assert image.headers["content-type"] == "image/jpeg"
            assert image.content[:3] == b"\xff\xd8\xff"
    running.proc.wait(timeout=DEMO_SECONDS + 120)
    running.reader.join(timeout=30)
    assert running.proc.returncode == 0, running.text
    assert "demo stopped" in running.text
