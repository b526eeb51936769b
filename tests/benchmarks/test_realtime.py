"""The real-time benchmark runs in smoke mode, writes its report, and selects providers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import onnxruntime as ort
import pytest

from benchmarks import realtime
from benchmarks.detection_path import INFERENCE_FLAGS, ModelCase
from benchmarks.realtime import (
    STAGES,
    BenchConfig,
    capacity,
    interleaved_inference,
    pytorch_checkpoint,
    resolve_model,
    run,
    save,
)
from edge.detector.hardware import cpu_flags
from traffic_monitor.cli import main
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import shared_path


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
    assert 0 < result["share_in_network"] < result["share_in_network_detect_track_only"] <= 1
    assert report["machine"]["cores"] >= 1
    assert set(report["machine"]["cpu_flags"]) <= set(INFERENCE_FLAGS)
    assert ("avx2" in report["machine"]["cpu_flags"]) == ("avx2" in cpu_flags())
    assert len(report["load_average_at_start"]) == 3
    assert report["peak_memory_mib"] > 0
    assert result["pipelined_fps_without_decode"] > 0
    assert result["pipelined_share_in_network"] > 0
    assert 0 < result["pipelined_network_busy_share"] <= 1  # its calls, within its wall time
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


def test_openvino_backends_are_rows_of_the_whole_path(smoke_config: BenchConfig):
    pytest.importorskip("openvino")
    smoke_config.backends = ["onnxruntime", "openvino-f32", "openvino-bf16"]
    report = run(smoke_config)
    rows = {r["backend"]: r for r in report["runs"]}
    assert set(rows) == {"onnxruntime", "openvino-f32", "openvino-bf16"}
    assert rows["openvino-f32"]["precision"] == "f32"
    assert rows["openvino-bf16"]["precision"] in {"bf16", "f32"}  # f32 on CPUs without bf16
    for row in rows.values():
        assert row["model"] == "yolo11n@320"
        assert set(row["stages"]) == set(STAGES)
        assert 0 < row["share_in_network"] <= 1
        assert row["pipelined_fps_without_decode"] > 0
    assert "backends_left_out" not in report


def test_openvino_rows_are_left_out_with_the_reason_without_the_package(
    smoke_config: BenchConfig, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(realtime, "openvino_version", lambda: None)
    smoke_config.backends = ["onnxruntime", "openvino-f32"]
    report = run(smoke_config)
    assert [r["backend"] for r in report["runs"]] == ["onnxruntime"]
    assert "pip install" in report["backends_left_out"]["openvino-f32"]


@pytest.mark.models
def test_ultralytics_track_runs_side_by_side(smoke_config: BenchConfig):
    pytest.importorskip("ultralytics")
    pytest.importorskip("lap")
    smoke_config.ultralytics = True
    if importlib.util.find_spec("openvino") is not None:
        smoke_config.backends = ["onnxruntime", "openvino-f32"]
    result, *others = run(smoke_config)["runs"]
    for other in others:  # every back-end against the same Ultralytics turns
        assert other["ultralytics_track"] == result["ultralytics_track"]
        assert other["speedup_vs_ultralytics_track"] > 0
        assert other["speedup_vs_ultralytics_track_pipelined"] > 0
    assert result["ultralytics_track"]["p50_ms"] > 0
    assert result["ultralytics_inference"]["p50_ms"] > 0
    assert result["speedup_vs_ultralytics_track"] > 0
    assert result["speedup_vs_ultralytics_track_pipelined"] > 0
    assert result["ceiling_vs_ultralytics_track_network_only"] > 0
    # The same weights as a .pt checkpoint, run by Ultralytics with PyTorch.
    assert result["ultralytics_pytorch_track"]["p50_ms"] > 0
    assert result["ultralytics_pytorch_inference"]["p50_ms"] > 0
    for prefix in ("ultralytics", "ultralytics_pytorch"):  # their network is part of their call
        assert 0 < result[f"{prefix}_share_in_network"] < 1
    assert result["speedup_vs_ultralytics_pytorch_track"] > 0
    assert result["speedup_vs_ultralytics_pytorch_track_pipelined"] > 0


@pytest.mark.models
def test_pytorch_references_hold_the_weights_of_the_onnx_model(tmp_path: Path):
    pytest.importorskip("ultralytics")
    case = resolve_model("vn-vehicles@416", tmp_path)
    assert case is not None
    rebuilt = pytorch_checkpoint(case, tmp_path)
    assert rebuilt is not None and rebuilt.parent == tmp_path
    assert pytorch_checkpoint(case, tmp_path) == rebuilt  # rebuilt once
    yolo11n = resolve_model("yolo11n@320", tmp_path)
    assert yolo11n is not None
    assert pytorch_checkpoint(yolo11n, tmp_path) == shared_path("models", "yolo11n.pt")
    int8 = ModelCase("yolo11n-int8@320", yolo11n.path, 320)
    assert pytorch_checkpoint(int8, tmp_path) is None  # no PyTorch model of the INT8 graph


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


def test_cli_chooses_backends_for_path_and_capacity(
    yolo11n_320_onnx: Path, overpass_video: Path, tmp_path: Path
):
    pytest.importorskip("openvino")
    out = tmp_path / "bench.json"
    args = ["bench", "--smoke", "--no-ultralytics", "--backends", "openvino-f32"]
    assert main([*args, "--capacity", "--capacity-backend", "openvino-f32", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["runs"]
    assert (row["backend"], row["precision"], row["frames"]) == ("openvino-f32", "f32", 5)
    assert row["capacity"]["criteria"]["backend"] == "openvino-f32"
    assert row["capacity"]["runs"][0]["processed_fps_per_camera_min"] > 0


def test_quantisation_runs_in_a_child_process_and_reports_its_failure(tmp_path: Path):
    """A broken float model gives a clear error instead of a report without INT8 rows."""
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(UserFacingError, match=r"quantising .*bogus\.onnx failed"):
        realtime._quantised(bogus, tmp_path / "cache")


@pytest.mark.models
def test_rect_model_is_fitted_to_the_video_and_compared_at_its_shape(
    smoke_config: BenchConfig, tmp_path: Path
):
    """``-rect``: exported at the clip's aspect (854 x 480 → 320 x 192), Ultralytics beside."""
    pytest.importorskip("ultralytics")
    pytest.importorskip("lap")
    case = resolve_model("yolo11n-rect@320", tmp_path, smoke_config.video)
    assert case is not None
    assert case.shape == (192, 320) and case.input_hw == (192, 320)
    assert case.path.name == "yolo11n_320x192.onnx"
    assert pytorch_checkpoint(case, tmp_path) == shared_path("models", "yolo11n.pt")
    smoke_config.models = ["yolo11n-rect@320"]
    smoke_config.ultralytics = True
    (result,) = run(smoke_config)["runs"]
    assert result["model"] == "yolo11n-rect@320"
    # Both references ran the 192 x 320 input: the ONNX one would fail on a square one.
    assert result["speedup_vs_ultralytics_track"] > 0
    assert result["speedup_vs_ultralytics_pytorch_track"] > 0
