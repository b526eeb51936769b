"""Ctrl-C on ``traffic-monitor demo``: the pipeline flushes before the broker stops.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group. Before, that reached
Mosquitto (a child in the same group) at once, so the pipeline's last events and its outbox
flush found no broker.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.analytics.edge_process import EdgeProcess
from tests.conftest import require_shared
from traffic_monitor.net import free_port

MOSQUITTO = Path("/usr/sbin/mosquitto")


@pytest.mark.slow
def test_ctrl_c_on_the_demo_flushes_the_pipeline_before_the_broker_stops(tmp_path: Path):
    if not MOSQUITTO.exists():
        pytest.skip("Mosquitto is not installed")
    require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    require_shared("models", "yolov8n.onnx")
    args = ["demo", "--port", str(free_port()), "--workdir", str(tmp_path / "demo")]
    demo = EdgeProcess(args, new_session=True)
    try:
        demo.wait_for_output("camera nga-ba-hue-overpass online")  # frames flow
        os.killpg(demo.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        assert demo.finish() == 0, demo.output[-4000:]
    finally:
        demo.kill()
    out = demo.output
    assert "demo stopped" in out and "Traceback" not in out, out[-4000:]
    assert "publisher closed; 0 messages stay in the outbox" in out, out[-4000:]
    assert re.search(r"edge pipeline ended: \d+ frames, \d+ events", out)
    order = [out.index(text) for text in ("edge pipeline ended", "ingestor stopped")]
    assert order == sorted(order)  # the pipeline ended before the aggregator stopped
    broker = re.search(r"mosquitto pid (\d+)", out)
    assert broker is not None
    with pytest.raises(ProcessLookupError):  # and the demo stopped its broker itself
        os.kill(int(broker.group(1)), 0)
