"""The real-time benchmark runs in smoke mode, writes its report, and selects providers."""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime as ort
import pytest

from benchmarks import realtime
from benchmarks.detection_path import ModelCase
from benchmarks.realtime import (
    STAGES,
    BenchConfig,
    capacity,
    interleaved_inference,
    resolve_model,
    run,
    save,
)
from traffic_monitor.cli import main
from traffic_monitor.errors import UserFacingError


@pytest.fixture
def smoke_config(yolo11n_320_onnx: Path, overpass_video: Path, tmp_path: Path) -> BenchConfig:
    return BenchConfig(
        models=["yolo11n@320"], frames=4, ultralytics=False, cache=tmp_path, video=overpass_video
    )


def test_smoke_run_reports_every_stage(smoke_config: BenchConfig, tmp_path: Path):
    report = run(smoke_config)
    (result,) = report["runs"]
    assert result["frames"] == 4
    assert set(result["stages"]) == set(STAGES)
    for stage in STAGES:
        assert result["stages"][stage]["p99_ms"] >= result["stages"][stage]["p50_ms"] >= 0
    assert result["stages"]["inference"]["p50_ms"] > 0
    assert result["end_to_end_fps"] > 0
    assert 0 < result["share_in_network"] <= 1
    assert report["machine"]["cores"] >= 1
    assert len(report["load_average_at_start"]) == 3
    assert report["peak_memory_mib"] > 0
    assert result["pipelined_fps_without_decode"] > 0
    chart = save(report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["runs"][0]["model"] == "yolo11n@320"
    if chart is not None:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_smoke_mode_writes_json(yolo11n_320_onnx: Path, overpass_video: Path, tmp_path: Path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--smoke", "--no-ultralytics", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["runs"][0]["frames"] == 5
    assert report["providers"] == ["cpu"]
    assert "capacity" not in report["runs"][0]


def test_cli_smoke_capacity_runs_the_pipeline_without_pass_mark(
    yolo11n_320_onnx: Path, overpass_video: Path, tmp_path: Path
):
    out = tmp_path / "bench.json"
    assert main(["bench", "--smoke", "--no-path", "--capacity", "--out", str(out)]) == 0
    (result,) = json.loads(out.read_text())["runs"]
    assert "stages" not in result
    (step,) = result["capacity"]["runs"]
    assert step["streams"] == 1
    assert step["processed_fps_per_camera_min"] > 0
    assert result["capacity"]["criteria"]["camera_fps"] == 25.0
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_vn_model_is_compared_only_when_its_file_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setattr(realtime, "VN_MODEL", tmp_path / "vn-vehicles.onnx")
    assert resolve_model("vn-vehicles@416", tmp_path) is None
    (tmp_path / "vn-vehicles.onnx").write_bytes(b"onnx")
    case = resolve_model("vn-vehicles@416", tmp_path)
    assert case is not None
    assert (case.path, case.imgsz) == (tmp_path / "vn-vehicles.onnx", 416)


@pytest.mark.models
def test_ultralytics_track_runs_side_by_side(smoke_config: BenchConfig):
    pytest.importorskip("ultralytics")
    pytest.importorskip("lap")
    smoke_config.ultralytics = True
    (result,) = run(smoke_config)["runs"]
    assert result["ultralytics_track"]["p50_ms"] > 0
    assert result["ultralytics_inference"]["p50_ms"] > 0
    assert result["speedup_vs_ultralytics_track"] > 0
    assert result["speedup_vs_ultralytics_track_pipelined"] > 0
    assert result["ceiling_vs_ultralytics_track_network_only"] > 0


@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_gpu_provider_is_used_or_refused_clearly(smoke_config: BenchConfig, provider: str):
    smoke_config.providers = [provider]
    ort_name = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[provider]
    if ort_name in ort.get_available_providers():
        report = run(smoke_config)
        assert report["providers"] == [provider]
        assert report["runs"][0]["end_to_end_fps"] > 0
        return
    with pytest.raises(UserFacingError, match=f"{provider} not available"):
        run(smoke_config)


def test_batched_streams_are_timed(smoke_config: BenchConfig):
    smoke_config.batch = 2
    (result,) = run(smoke_config)["runs"]
    assert result["batched"]["batch"] == 2
    assert result["batched"]["detect_fps"] > 0


def test_unknown_model_is_refused(tmp_path: Path):
    with pytest.raises(UserFacingError, match="unknown model"):
        resolve_model("yolov9x@1280", tmp_path)


@pytest.mark.parametrize(
    ("decode_s", "process_s", "streams"),
    [(0.002, 0.02, 4), (0.0, 0.05, 2), (0.004, 0.0, 10), (0.0, 0.0, 0)],
)
def test_capacity_counts_decode_of_every_frame_and_processing_at_10fps(
    decode_s, process_s, streams
):
    assert capacity(decode_s, process_s) == streams


def test_models_take_turns_on_the_same_frames(smoke_config: BenchConfig, yolo11n_320_onnx: Path):
    cases = [ModelCase("a", yolo11n_320_onnx, 320), ModelCase("b", yolo11n_320_onnx, 320)]
    result = interleaved_inference(cases, smoke_config)
    assert set(result) == {"a", "b"}
    assert all(stats["p50_ms"] > 0 for stats in result.values())
