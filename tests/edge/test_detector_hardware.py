"""The start-up advice to run in bf16 on CPUs that compute it natively."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.detector import Detector, DetectorConfig, hardware
from edge.detector.hardware import bf16_hint, cpu_flags

ZEN5 = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"})
AVX2 = frozenset({"avx2", "fma"})


def test_cpu_flags_reads_the_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "absent") == frozenset()
    cpuinfo.write_text("processor\t: 0\n")  # e.g. an ARM kernel's layout without flags
    assert cpu_flags(cpuinfo) == frozenset()


@pytest.mark.parametrize(
    ("settings", "flags", "advised"),
    [
        ({}, ZEN5, True),  # ONNX Runtime f32 on a bf16 CPU
        ({"runtime": "openvino"}, ZEN5, True),  # OpenVINO left on f32
        ({"runtime": "openvino"}, frozenset({"amx_bf16"}), True),
        ({"runtime": "openvino", "openvino_precision": "bf16"}, ZEN5, False),
        ({"runtime": "openvino", "openvino_precision": "auto"}, ZEN5, False),
        ({"providers": ["cuda", "cpu"]}, ZEN5, False),  # a GPU does the work
        ({}, AVX2, False),
        ({"runtime": "openvino"}, frozenset(), False),
    ],
)
def test_bf16_hint(settings: dict[str, object], flags: frozenset[str], advised: bool) -> None:
    hint = bf16_hint(DetectorConfig.model_validate(settings), flags)
    assert (hint is not None) == advised
    if hint is not None:
        assert "openvino_precision: bf16" in hint
        assert any(flag in hint for flag in flags)  # names what the CPU has


def test_detector_logs_the_hint_once_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, yolo11n_320_onnx: Path
) -> None:
    monkeypatch.setattr(hardware, "cpu_flags", lambda: ZEN5)
    with caplog.at_level(logging.INFO, logger="edge.detector.hardware"):
        Detector(DetectorConfig(model=yolo11n_320_onnx))
    assert [r.message for r in caplog.records].count(bf16_hint(DetectorConfig(), ZEN5)) == 1
    caplog.clear()
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2)
    with caplog.at_level(logging.INFO, logger="edge.detector.hardware"):
        Detector(DetectorConfig(model=yolo11n_320_onnx))
    assert not caplog.records
