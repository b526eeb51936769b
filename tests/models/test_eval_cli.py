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


def test_eval_cli_runs_on_openvino_and_records_the_precision(yolo11n_320_onnx: Path, tmp_path):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from edge.detector.hardware import BF16_FLAGS, cpu_flags

    dataset = require_shared("data", "detection")
    argv = ["models", "eval", str(yolo11n_320_onnx), str(dataset), "--limit", "6"]
    reports = {}
    for name, extra in {
        "ort": [],
        "f32": ["--runtime", "openvino"],
        "bf16": ["--runtime", "openvino", "--openvino-precision", "bf16"],
    }.items():
        out = tmp_path / f"{name}.json"
        assert main([*argv, *extra, "--out", str(out)]) == 0
        reports[name] = json.loads(out.read_text())
    assert (reports["ort"]["runtime"], reports["ort"]["precision"]) == ("onnxruntime", "f32")
    assert (reports["f32"]["runtime"], reports["f32"]["precision"]) == ("openvino", "f32")
    native = any(flag in cpu_flags() for flag in BF16_FLAGS)
    assert reports["bf16"]["precision"] == ("bf16" if native else "f32")  # what really ran
    assert reports["f32"]["map50"] == pytest.approx(reports["ort"]["map50"], abs=0.005)
    assert reports["bf16"]["map50"] == pytest.approx(reports["ort"]["map50"], abs=0.02)


def test_eval_cli_refuses_an_unknown_runtime(yolo11n_320_onnx: Path):
    dataset = require_shared("data", "detection")
    argv = ["models", "eval", str(yolo11n_320_onnx), str(dataset), "--limit", "1"]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--runtime", "tensorflow"])
    assert exited.value.code == 2
    assert main([*argv, "--runtime", "openvino", "--providers", "cuda"]) == 2  # no traceback
    assert main([*argv, "--providers", "quantum"]) == 2


def test_eval_cli_runs_on_torch_with_onnxruntimes_map(yolo11n_320_onnx: Path, tmp_path):
    pytest.importorskip("onnx2torch", reason="the torch extra is not installed")
    dataset = require_shared("data", "detection")
    argv = ["models", "eval", str(yolo11n_320_onnx), str(dataset), "--limit", "6"]
    reports = {}
    for name, extra in {"ort": [], "torch": ["--runtime", "torch", "--device", "cpu"]}.items():
        out = tmp_path / f"{name}.json"
        assert main([*argv, *extra, "--out", str(out)]) == 0
        reports[name] = json.loads(out.read_text())
    assert (reports["torch"]["runtime"], reports["torch"]["precision"]) == ("torch", "f32")
    assert reports["torch"]["map50"] == pytest.approx(reports["ort"]["map50"], abs=0.01)
    assert main([*argv, "--runtime", "torch", "--device", "gpu"]) == 2  # refused, field named


def test_eval_on_the_road_set_merges_riders_only_where_its_labels_box_them(tmp_path: Path):
    from models.cli import site_conventions

    dataset = require_shared("data", "detection")
    rider_in_box = site_conventions(dataset)
    assert rider_in_box is not None
    assert not rider_in_box("611.jpg")  # dense_intersection boxes the bike alone
    assert site_conventions(tmp_path) is None
