"""Rebuilding a trainable checkpoint from a committed ONNX detector (to train it further)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from models.rebuild import _letterboxed, checkpoint_from_onnx
from tests.conftest import require_shared
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import REPO_ROOT

pytestmark = pytest.mark.models

HELMET = REPO_ROOT / "models" / "weights" / "vn-helmet.onnx"


def _helmet_images(count: int) -> list[Path]:
    root = require_shared("data", "helmet", "images")
    names = (REPO_ROOT / "models" / "splits" / "vn-helmet" / "train.txt").read_text().split()
    return [root / name for name in names[:count]]


def _torch_model(path: Path, batch_statistics: bool = False) -> object:
    """The checkpoint's model in inference mode; optionally BatchNorms on batch statistics."""
    torch = pytest.importorskip("torch")
    model = torch.load(path, weights_only=False)["model"].float().eval()
    if batch_statistics:
        for layer in model.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):
                layer.train()
    return model


def _run(model: object, batch: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(batch))[0].numpy()  # type: ignore[operator]


def test_rebuilt_checkpoint_computes_what_the_onnx_model_computes(tmp_path: Path) -> None:
    pytest.importorskip("ultralytics")
    import onnxruntime as ort

    images = _helmet_images(4)
    out = checkpoint_from_onnx(HELMET, tmp_path / "helmet.pt", images, imgsz=448)
    batch = _letterboxed(_helmet_images(5)[4], 448)[None]  # the model has batch size 1
    session = ort.InferenceSession(str(HELMET), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: batch})[0]
    got = _run(_torch_model(out), batch)
    assert got.shape == expected.shape
    # FP16 weights in the checkpoint: boxes within a pixel, class scores within 1e-3.
    assert np.abs(got[:, :4] - expected[:, :4]).max() < 1.0
    assert np.abs(got[:, 4:] - expected[:, 4:]).max() < 1e-3
    assert _torch_model(out).names == {0: "head_no_helmet", 1: "head_helmet"}  # type: ignore[attr-defined]


def test_calibrated_batch_norms_keep_training_mode_close_to_the_model(tmp_path: Path) -> None:
    """Batch statistics on the calibration images equal the running ones: no jolt at start."""
    pytest.importorskip("ultralytics")
    images = _helmet_images(4)
    batch = np.stack([_letterboxed(path, 448) for path in images])
    calibrated = checkpoint_from_onnx(HELMET, tmp_path / "cal.pt", images, imgsz=448)
    identity = checkpoint_from_onnx(HELMET, tmp_path / "raw.pt")
    reference = _run(_torch_model(calibrated), batch)[:, 4:]
    calibrated_train = _run(_torch_model(calibrated, batch_statistics=True), batch)[:, 4:]
    identity_train = _run(_torch_model(identity, batch_statistics=True), batch)[:, 4:]
    assert np.abs(calibrated_train - reference).max() < 0.02
    assert np.abs(identity_train - reference).max() > 0.1


def test_a_model_without_class_names_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model = onnx.load(str(HELMET))
    kept = [prop for prop in model.metadata_props if prop.key != "names"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(UserFacingError, match="no class names"):
        checkpoint_from_onnx(bare, tmp_path / "bare.pt")
    with pytest.raises(UserFacingError, match="does not exist"):
        checkpoint_from_onnx(tmp_path / "missing.onnx", tmp_path / "x.pt")
