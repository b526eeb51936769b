"""Scene-disjoint splits, the training data layout, and a one-epoch training run."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detector import Detector, DetectorConfig
from models import train as train_module
from models.split import SceneSplit, scene_groups, split_by_scene
from models.train import PRESETS, SPLITS_DIR, TrainOptions, TrainPreset, prepare_dataset
from tests.conftest import require_shared


def _camera_set(root: Path, cameras: int = 4, frames: int = 6) -> None:
    """A YOLO set of `cameras` fixed views, each with moving boxes, file names interleaved."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "classes.txt").write_text("car\n")
    backgrounds = [
        cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (128, 128))
        for _ in range(cameras)
    ]
    for frame in range(frames):
        for camera, background in enumerate(backgrounds):
            image = background.copy()
            x = 10 + 15 * frame
            cv2.rectangle(image, (x, 50), (x + 20, 70), (255, 255, 255), -1)
            name = f"{camera * 100 + frame}"
            cv2.imwrite(str(root / "images" / f"{name}.jpg"), image)
            (root / "labels" / f"{name}.txt").write_text(f"0 {(x + 10) / 128} 0.47 0.16 0.16\n")


def test_frames_of_one_camera_form_one_scene(tmp_path: Path) -> None:
    _camera_set(tmp_path)
    images = sorted((tmp_path / "images").glob("*.jpg"), key=lambda p: int(p.stem))
    groups = scene_groups(images)
    by_camera: dict[int, set[int]] = {}
    for path, group in zip(images, groups, strict=True):
        by_camera.setdefault(int(path.stem) // 100, set()).add(group)
    assert all(len(g) == 1 for g in by_camera.values())
    assert len({next(iter(g)) for g in by_camera.values()}) == 4


def test_split_never_puts_a_scene_on_both_sides(tmp_path: Path) -> None:
    _camera_set(tmp_path)
    split = split_by_scene(tmp_path, val_fraction=0.25, max_scene_share=0.5)
    assert split.val and split.train
    val_scenes = {split.scene_of[n] for n in split.val}
    assert not val_scenes & {split.scene_of[n] for n in split.train}
    split.write(tmp_path / "split")
    assert SceneSplit.read(tmp_path / "split") == split


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_committed_splits_are_scene_disjoint_and_complete(preset: str) -> None:
    split = SceneSplit.read(SPLITS_DIR / preset)
    assert not set(split.train) & set(split.val)
    assert not {split.scene_of[n] for n in split.val} & {split.scene_of[n] for n in split.train}
    assert set(split.train) | set(split.val) == set(split.scene_of)
    gate = (SPLITS_DIR / preset / "gate.txt").read_text().split()
    assert set(gate) <= set(split.val)


def test_dataset_layout_links_the_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _camera_set(tmp_path / "set")
    monkeypatch.setattr(train_module, "_dataset_root", lambda preset: tmp_path / "set")
    preset = TrainPreset("toy", "unused", ("car",), "toy")
    split = split_by_scene(tmp_path / "set", max_scene_share=0.5)
    data_yaml = prepare_dataset(preset, split, tmp_path / "work")
    work = tmp_path / "work"
    assert sorted(p.name for p in (work / "images" / "val").iterdir()) == sorted(split.val)
    assert len(list((work / "labels" / "train").iterdir())) == len(split.train)
    assert "names" in data_yaml.read_text()


@pytest.mark.models
@pytest.mark.slow
def test_one_epoch_training_exports_a_described_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real Ultralytics path end to end, tiny: 1 epoch at 64 px on 24 synthetic images."""
    pytest.importorskip("ultralytics")
    base = require_shared("models", "yolov8n.pt")
    _camera_set(tmp_path / "set")
    monkeypatch.setattr(train_module, "_dataset_root", lambda preset: tmp_path / "set")
    monkeypatch.setattr(train_module, "SPLITS_DIR", tmp_path / "splits")
    preset = TrainPreset("toy", "unused", ("car",), "toy model trained on synthetic boxes")
    options = TrainOptions(preset, base, tmp_path / "out", imgsz=64, epochs=1, batch=8, workers=0)
    record = train_module.train(options)
    assert record["settings"]["seed"] == 0 and record["split"]["train"] > 0
    record = json.loads((tmp_path / "out" / "training.json").read_text())
    assert record["preset"] == "toy"
    assert record["epochs_run"] == 1
    detector = Detector(DetectorConfig(model=tmp_path / "out" / "toy.onnx"))
    assert detector.names == ("car",)
    assert detector.model.info.description == "toy model trained on synthetic boxes"
    # Training further from the exported ONNX rebuilds a trainable checkpoint from it.
    again = TrainOptions(
        preset,
        tmp_path / "out" / "toy.onnx",
        tmp_path / "again",
        imgsz=64,
        epochs=1,
        batch=8,
        workers=0,
    )
    record = train_module.train(again)
    assert (tmp_path / "again" / "base.pt").exists()
    assert record["settings"]["base"] == "toy.onnx"
    assert Detector(DetectorConfig(model=tmp_path / "again" / "toy.onnx")).names == ("car",)
