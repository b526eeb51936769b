"""The real ``traffic-monitor`` command line with faults injected (supervision tests only).

    EDGE_FAULTS='{"capture_dies": {"camera": "c", "frame": 40},
                  "detector_stalls": {"confidence": 0.21, "call": 30}}' \
        python -m tests.analytics.edge_with_faults edge run run.yaml

Every step of ``edge run`` is the production code; only these faults are added:

- the ``test_fault`` and ``test_alert`` rules are registered (``tests.analytics.faults``);
- ``capture_dies``: the capture thread of ``camera`` raises once, on frame ``frame``;
- ``detector_stalls``: the first detector built with ``confidence`` blocks for good on its
  ``call``-th call (a rebuilt one works).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import tests.analytics.faults  # noqa: F401  (registers the test rules)
from traffic_monitor.cli import main


def _capture_dies(camera: str, frame: int) -> None:
    from edge.ingest import capture

    original = capture.CaptureWorker._deliver
    done = threading.Event()

    def deliver(self: Any, image: Any, timestamp: float) -> None:
        if self.config.camera_id == camera and self._index >= frame and not done.is_set():
            done.set()
            raise RuntimeError(f"injected capture fault on frame {self._index}")
        original(self, image, timestamp)

    capture.CaptureWorker._deliver = deliver  # type: ignore[method-assign]


def _detector_stalls(confidence: float, call: int) -> None:
    import edge.detector

    real = edge.detector.Detector
    stalled = threading.Event()

    class StallingDetector(real):  # type: ignore[misc, valid-type]
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.stalls = config.confidence == confidence and not stalled.is_set()
            self.calls = 0

        def detect(self, frames: Any) -> Any:
            self.calls += 1
            if self.stalls and self.calls == call:
                stalled.set()
                threading.Event().wait()  # stuck for good, as a hung runtime would be
            return super().detect(frames)

    edge.detector.Detector = StallingDetector  # type: ignore[misc, assignment]


def install(faults: dict[str, Any]) -> None:
    """Patch in the faults named in ``faults``."""
    if "capture_dies" in faults:
        _capture_dies(**faults["capture_dies"])
    if "detector_stalls" in faults:
        _detector_stalls(**faults["detector_stalls"])


if __name__ == "__main__":
    install(json.loads(os.environ.get("EDGE_FAULTS", "{}")))
    sys.exit(main(sys.argv[1:]))
