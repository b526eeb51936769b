"""The detection-path benchmark runs end to end in smoke mode (a few frames), so it cannot rot.

No timing is asserted: timings belong in benchmarks/results/, not in tests.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import detection_path


def test_benchmark_smoke(tmp_path: Path, yolo11n_320_onnx: Path, overpass_video: Path) -> None:
    out = tmp_path / "bench.json"
    assert detection_path.main(["--frames", "3", "--models", "yolo11n@320", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert {run["model"] for run in runs} == {"yolo11n@320"}
    assert len(runs) == 2  # both shared videos
    for run in runs:
        assert run["frames"] == 3
        assert set(run["stages"]) == {"decode", "preprocess", "inference", "postprocess"}
        assert 0 < run["share_outside_session_run"] < 1
        assert run["threaded_fps"] > 0
    assert report["machine"]["cores"] >= 1
