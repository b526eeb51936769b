"""The sustained-capacity search: paced cameras, counters over a window, the stop rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import capacity as capacity_module
from benchmarks.capacity import (
    CapacityConfig,
    PacedCamera,
    _Counters,
    _figures,
    camera_scenes,
    detector_for,
    search_capacity,
)
from benchmarks.realtime import SCENE
from edge.ingest import SourceConfig
from edge.scene.config import load_scene


def test_paced_camera_delivers_10_of_25_fps_with_camera_timestamps(overpass_video: Path):
    camera = PacedCamera(
        SourceConfig(uri=str(overpass_video), max_fps=10, queue_policy="block"), camera_fps=25.0
    )
    camera.start()
    frames = [camera.get(timeout=10.0) for _ in range(5)]
    camera.stop()
    assert all(frame is not None for frame in frames)
    assert [f.index for f in frames if f is not None] == [0, 3, 5, 8, 10]
    assert [f.timestamp for f in frames if f is not None] == pytest.approx(
        [0.0, 0.12, 0.2, 0.32, 0.4]
    )


def test_camera_scenes_get_distinct_ids():
    scenes = camera_scenes(load_scene(SCENE), 3)
    assert [s.camera.id for s in scenes] == ["cam0", "cam1", "cam2"]
    assert scenes[0].rules == scenes[2].rules


def _counters(at: float, processed: float, delivered: int, dropped: int, decoded: int) -> _Counters:
    return _Counters(
        at=at,
        cpu_s=at / 2,
        decoded={"cam0": decoded},
        delivered={"cam0": delivered},
        dropped={"cam0": dropped},
        processed={"cam0": processed},
        detect_s=at / 10,
        batches=int(processed),
    )


@pytest.mark.parametrize(
    ("processed", "dropped", "decoded", "sustained"),
    [
        (100, 0, 250, True),  # 10 fps processed, 25 decoded, nothing dropped
        (100, 5, 250, False),  # 5 % dropped
        (90, 0, 250, False),  # 9 fps processed
        (100, 0, 200, False),  # decoding fell behind the camera
    ],
)
def test_a_count_holds_only_without_drops_and_at_full_rate(processed, dropped, decoded, sustained):
    before = _counters(0.0, 0, 0, 0, 0)
    after = _counters(10.0, processed, 100, dropped, decoded)
    result = _figures(before, after, 1, CapacityConfig())
    assert result["sustained"] is sustained
    assert result["processed_fps_per_camera_min"] == pytest.approx(processed / 10)
    assert result["drop_share"] == pytest.approx(dropped / 100)


def test_search_stops_at_the_first_count_that_fails(monkeypatch: pytest.MonkeyPatch):
    tried: list[int] = []

    def fake(streams: int, *args: Any) -> dict[str, Any]:
        tried.append(streams)
        return {
            "streams": streams,
            "sustained": streams <= 3,
            "processed_fps_per_camera_min": 10.0,
            "frames_dropped": 0,
            "drop_share": 0.0,
        }

    monkeypatch.setattr(capacity_module, "measure_streams", fake)
    result = search_capacity(None, None, Path("x"), CapacityConfig(max_streams=8))  # type: ignore[arg-type]
    assert tried == [1, 2, 3, 4]
    assert result["sustained_streams"] == 3
    assert [r["streams"] for r in result["runs"]] == [1, 2, 3, 4]


def test_short_run_through_the_edge_pipeline(yolo11n_320_onnx: Path, overpass_video: Path):
    scene = load_scene(SCENE)
    detector = detector_for(scene, yolo11n_320_onnx, ["cpu"])
    assert detector.config.classes == scene.detector.classes
    config = CapacityConfig(
        duration_s=1.0, warmup_s=0.5, max_streams=2, max_drop_share=1.0, min_rate_share=0.0
    )
    result = search_capacity(detector, scene, overpass_video, config)
    assert result["sustained_streams"] == 2
    for run in result["runs"]:
        assert run["processed_fps_per_camera_min"] > 0
        assert run["decoded_fps_per_camera_min"] > 0
        assert run["frames_delivered"] > 0
        assert run["mean_batch"] >= 1
        assert len(run["load_average"]) == 3


def test_capacity_detector_on_the_openvino_backend(yolo11n_320_onnx: Path):
    pytest.importorskip("openvino")
    from edge.detector import OpenVinoYoloModel

    scene = load_scene(SCENE)
    detector = detector_for(scene, yolo11n_320_onnx, ["cpu"], backend="openvino-bf16")
    assert isinstance(detector.model, OpenVinoYoloModel)
    assert detector.config.openvino_precision == "bf16"
    assert detector.config.classes == scene.detector.classes
    assert detector.config.confidence == scene.detector.confidence
    with pytest.raises(ValueError, match="unknown backend"):
        detector_for(scene, yolo11n_320_onnx, ["cpu"], backend="tvm")
