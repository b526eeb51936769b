"""``bench --gpu`` on a machine without CUDA: it runs on the CPU, writes the dry-run file, and
never claims GPU figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.gpu import GpuBenchConfig, _split, camera_round, results_path, run_gpu_bench

pytest.importorskip("onnx2torch", reason="the torch extra is not installed")


def test_results_file_names_say_whether_a_gpu_ran() -> None:
    assert results_path("cuda:0").name == "realtime_gpu.json"
    assert results_path("cpu").name == "realtime_gpu_cpu_dryrun.json"


@pytest.mark.parametrize(
    ("cameras", "processes", "expected"),
    [(1, 4, [1]), (8, 3, [3, 3, 2]), (128, 8, [16] * 8), (2, 1, [2])],
)
def test_cameras_are_split_evenly_over_processes(
    cameras: int, processes: int, expected: list[int]
) -> None:
    assert _split(cameras, processes) == expected


def test_each_camera_of_a_round_gets_its_own_frame() -> None:
    clips = [[f"a{i}" for i in range(5)], [f"b{i}" for i in range(5)]]
    first, second = camera_round(clips, 4, 0), camera_round(clips, 4, 1)
    assert [frame[0] for frame in first] == ["a", "b", "a", "b"]
    assert len(set(first)) == 4 and first != second


@pytest.mark.slow
@pytest.mark.timeout(1800)  # CPU torch on a loaded 2-core box
def test_cpu_dry_run_writes_every_key(tmp_path: Path, overpass_video: Path) -> None:
    pytest.importorskip("ultralytics", reason="the models extra is not installed")
    out = tmp_path / "realtime_gpu_cpu_dryrun.json"
    config = GpuBenchConfig(cameras=[1], seconds=2.0, warmup_s=1.0, loop_seconds=0.5)
    report = run_gpu_bench(config, out)
    assert report["device"] == "cpu" and report["precision"] == "fp32"
    written = json.loads(out.read_text())
    for key in ("end_to_end_fps", "network_fps", "ultralytics_fps"):
        assert set(written[key]) == {"1"}
    (row,) = written["runs"]
    # rates on a loaded CPU may round to 0.0: the test checks that each part ran, not speed
    assert row["network_ms_per_batch_p99"] >= row["network_ms_per_batch_p50"] > 0
    assert row["detect_ms_per_batch_p99"] >= row["detect_ms_per_batch_p50"] > 0
    assert row["ultralytics_ms_per_round_p50"] > 0
    assert row["processes"] == 1 and 0.0 <= row["drop_share"] <= 1.0
    assert row["end_to_end_fps"] >= 0 and row["cpu_cores_used"] > 0
    assert row["gpu_memory_mib"] == [None] and row["gpu_memory_mib_detector"] is None
