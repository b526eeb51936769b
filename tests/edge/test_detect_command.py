"""The ``traffic-monitor detect`` command end to end (real model, real video, subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest


def traffic_monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "traffic_monitor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_detect_writes_video_jsonl_and_summary(
    intersection_video: Path, yolov8n_onnx: Path, tmp_path: Path
) -> None:
    out, jsonl = tmp_path / "annotated.mp4", tmp_path / "detections.jsonl"
    result = traffic_monitor(
        "detect", str(intersection_video), "--model", str(yolov8n_onnx),
        "--out", str(out), "--jsonl", str(jsonl), "--max-fps", "2",
        "--classes", "car,motorcycle,person", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert 59 <= len(records) <= 62
    assert records[1]["timestamp"] - records[0]["timestamp"] == 0.5
    classes = {d["class"] for r in records for d in r["detections"]}
    assert "car" in classes
    assert classes <= {"car", "motorcycle", "person"}
    box = records[0]["detections"][0]["box"]
    assert 0 <= box[0] < box[2] <= 640 and 0 <= box[1] < box[3] <= 480
    video = cv2.VideoCapture(str(out))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(records)
    assert int(video.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640
    video.release()
    assert f"frames:          {len(records)}" in result.stdout
    assert "dropped frames:  0" in result.stdout
    assert '"car":' in result.stdout
    assert "mean fps:" in result.stdout


def test_corrupt_video_is_a_clear_error(tmp_path: Path, yolov8n_onnx: Path) -> None:
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(b"not a video at all" * 1000)
    result = traffic_monitor("detect", str(bogus), "--model", str(yolov8n_onnx), "--no-progress")
    assert result.returncode == 2
    assert "error: cannot open file" in result.stderr
    assert "Traceback" not in result.stderr


def test_model_that_is_not_yolo_is_a_clear_error(tmp_path: Path, intersection_video: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"garbage")
    result = traffic_monitor("detect", str(intersection_video), "--model", str(model))
    assert result.returncode == 2
    assert "is not a loadable ONNX model" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_provider_is_a_clear_error(intersection_video: Path, yolov8n_onnx: Path) -> None:
    result = traffic_monitor(
        "detect", str(intersection_video), "--model", str(yolov8n_onnx), "--providers", "cuda"
    )
    assert result.returncode == 2
    assert "cuda not available" in result.stderr and "available: " in result.stderr


def test_bad_option_names_the_field(intersection_video: Path) -> None:
    result = traffic_monitor("detect", str(intersection_video), "--conf", "3")
    assert result.returncode == 2
    assert "invalid option confidence" in result.stderr


def test_detect_on_openvino_finds_what_onnxruntime_finds(
    intersection_video: Path, yolov8n_onnx: Path, tmp_path: Path
) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    found = {}
    for runtime in ("onnxruntime", "openvino"):
        jsonl = tmp_path / f"{runtime}.jsonl"
        result = traffic_monitor(
            "detect", str(intersection_video), "--model", str(yolov8n_onnx),
            "--jsonl", str(jsonl), "--max-fps", "0.5", "--runtime", runtime, "--no-progress",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in jsonl.read_text().splitlines()]
        found[runtime] = [sorted(d["class"] for d in r["detections"]) for r in records]
    assert found["openvino"] == found["onnxruntime"]
    assert any(found["openvino"])


def test_detect_keeps_road_users_by_default(intersection_video: Path, yolov8n_onnx: Path) -> None:
    """COCO sees benches and boats at this junction; the default summary counts road users."""
    summaries = {}
    for extra in ([], ["--classes", "all"]):
        result = traffic_monitor(
            "detect", str(intersection_video), "--model", str(yolov8n_onnx),
            "--max-fps", "0.5", "--conf", "0.2", "--no-progress", *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        line = next(x for x in result.stdout.splitlines() if x.startswith("detections per class"))
        summaries[bool(extra)] = json.loads(line.split(":", 1)[1])
    assert set(summaries[False]) <= {"person", "bicycle", "car", "motorcycle", "bus", "truck"}
    assert "car" in summaries[False]
    assert "bench" in summaries[True]
    assert summaries[False]["car"] == summaries[True]["car"]
