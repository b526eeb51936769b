"""``traffic-monitor models eval`` on real shared images with the real detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import require_shared
from traffic_monitor.cli import main


def test_eval_cli_writes_a_report_that_cocoeval_agrees_with(yolo11n_320_onnx: Path, tmp_path):
    pytest.importorskip("faster_coco_eval")
    dataset = require_shared("data", "detection")
    out = tmp_path / "eval.json"
    argv = ["models", "eval", str(yolo11n_320_onnx), str(dataset), "--limit", "12"]
    assert main([*argv, "--merge-riders", "--crosscheck", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 12
    names = [c["name"] for c in report["classes"]]
    assert names == ["car", "motorcycle", "bicycle", "truck", "bus"]
    assert 0.0 < report["map50"] <= 1.0
    assert report["map50"] == pytest.approx(
        report["crosscheck_faster_coco_eval"]["map50"], abs=0.005
    )


def test_eval_cli_refuses_a_bad_mapping(yolo11n_320_onnx: Path, tmp_path):
    dataset = require_shared("data", "detection")
    argv = ["models", "eval", str(yolo11n_320_onnx), str(dataset), "--limit", "1"]
    assert main([*argv, "--map", "car"]) == 2
    assert main([*argv, "--map", "unicorn=car"]) == 2
    assert main(["models", "eval", str(tmp_path / "none.onnx"), str(dataset)]) == 2
