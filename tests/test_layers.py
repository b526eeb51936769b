"""The package layers: what the wheel ships, and the seams where edge and cloud meet.

The import rules themselves are checked by import-linter (``[tool.importlinter]`` in
pyproject.toml, ``lint-imports`` in ``scripts/test.sh``); these tests cover what it cannot
see: the wheel's package list, the checkout-only ``bench`` command and the wiring of the
edge's detectors into the aggregator by the top layer.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.abc import MetaPathFinder
from pathlib import Path

import cv2
import numpy as np
import pytest
from setuptools import find_packages

from cloud.reports.photos import PhotoPrivacy, PhotoRedactor
from edge.privacy.photos import DetectorPhotoPrivacy
from traffic_monitor.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def _shipped_packages() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    return find_packages(str(REPO), include=find["include"], exclude=find.get("exclude", ()))


def test_the_wheel_ships_no_benchmarks_or_tests():
    shipped = _shipped_packages()
    assert {"traffic_monitor.contract", "edge", "cloud", "calibration", "models"} <= set(shipped)
    assert not [name for name in shipped if name.split(".")[0] in ("benchmarks", "tests")]


class _NoBenchmarks(MetaPathFinder):
    """Imports as from an installed wheel: no ``benchmarks`` package."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "benchmarks":
            raise ModuleNotFoundError(f"No module named {name!r}", name="benchmarks")


def test_bench_outside_a_checkout_says_so(monkeypatch, capsys):
    for name in [m for m in sys.modules if m.split(".")[0] == "benchmarks"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoBenchmarks(), *sys.meta_path])
    assert main(["bench", "--frames", "1"]) == 2
    error = capsys.readouterr().err
    assert "source checkout" in error and "not in the wheel" in error


def test_cloud_serve_gets_the_edge_detectors_from_the_top_layer():
    args = build_parser(["cloud", "serve"]).parse_args(["cloud", "serve"])
    privacy: PhotoPrivacy = args.photo_privacy()
    assert isinstance(privacy, DetectorPhotoPrivacy)
    assert privacy is args.photo_privacy()  # one per process: detectors loaded once


def test_without_a_privacy_detector_the_whole_photo_is_pixelated():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    photo = PhotoRedactor(None).redact(jpeg.tobytes())
    assert (photo.method, photo.heads, photo.plates) == ("whole-photo", 0, 0)
    blurred = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    sharp = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert blurred.shape == sharp.shape
    # fine detail gone everywhere: neighbouring pixels differ far less than in the original
    detail = lambda a: np.abs(np.diff(a.astype(np.float32), axis=1)).mean()  # noqa: E731
    assert detail(blurred) < detail(sharp) / 4


def test_bench_runs_from_an_editable_checkout_in_any_folder(tmp_path):
    """``pip install -e`` maps only the shipped packages: the CLI finds benchmarks/ beside them."""
    cli = Path(sys.executable).parent / "traffic-monitor"
    if not cli.is_file():
        pytest.skip("no traffic-monitor console script beside this interpreter")
    run = subprocess.run(
        [str(cli), "bench", "--help"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "--capacity" in run.stdout
