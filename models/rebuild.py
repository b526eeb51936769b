"""Rebuild a trainable Ultralytics checkpoint from an Ultralytics-exported ONNX detector.

The committed product models are ONNX files only (small, runtime-neutral); the ``.pt``
checkpoints they came from live in ``build/`` and are not kept. To fine-tune a committed model
further (more epochs, a larger input size) its weights are put back into an Ultralytics
``DetectionModel`` of the same architecture. Ultralytics' export fuses every Conv + BatchNorm
pair into one Conv with a bias; the rebuild puts each fused weight back as the Conv weight and
the fused bias into an identity BatchNorm (scale 1, running mean 0, running variance 1 − eps),
so the unfused model computes exactly what the ONNX graph computes. This is how the shared
``yolov8n.pt`` / ``yolo11n.pt`` were made (``shared/data/SOURCES.md``). Ultralytics has no
ONNX → ``.pt`` import, hence this module.

Needs the ``models`` extra (Ultralytics, torch).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from edge.detector.model import ModelError, parse_names
from edge.detector.preprocess import letterbox, to_blob
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

#: Architectures tried, in order; the first whose every weight matches the ONNX file wins.
ARCHITECTURES = ("yolov8n.yaml", "yolo11n.yaml")


def checkpoint_from_onnx(
    onnx_path: Path, out: Path, calibration: Sequence[Path] = (), imgsz: int = 640
) -> Path:
    """Write an Ultralytics checkpoint (``{"model": DetectionModel}``) rebuilt from ONNX.

    Args:
        onnx_path: Ultralytics-exported detector (fused Conv weights, ``names`` metadata).
        out: Target ``.pt`` file.
        calibration: Images whose activation statistics become the BatchNorm running
            statistics (see :func:`calibrate_batch_norm`); without them the BatchNorms are
            identities with unit statistics, which training in batch-statistics mode upsets
            at first.
        imgsz: Square size the calibration images are letterboxed to.

    Returns:
        ``out``.

    Raises:
        UserFacingError: The file is missing, has no class names, or matches none of
            :data:`ARCHITECTURES`; or the ``models`` extra is not installed.
    """
    if not onnx_path.exists():
        raise UserFacingError(f"model {onnx_path} does not exist")
    try:
        import torch
    except ImportError as exc:
        raise UserFacingError("rebuilding a checkpoint needs the models extra (torch)") from exc
    graph = onnx.load(str(onnx_path))
    weights = {init.name: numpy_helper.to_array(init) for init in graph.graph.initializer}
    meta = {prop.key: prop.value for prop in graph.metadata_props}
    try:
        names = parse_names(meta.get("names"), onnx_path)
    except ModelError as exc:
        raise UserFacingError(str(exc)) from exc
    model = _matching_model(weights, len(names))
    model.names = dict(enumerate(names))
    if calibration:
        calibrate_batch_norm(model, calibration, imgsz)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.half(), "train_args": {}, "date": None, "version": None}, out)
    logger.info("rebuilt %s (%d classes) → %s", onnx_path, len(names), out)
    return out


def _matching_model(weights: dict[str, np.ndarray], classes: int) -> Any:
    problems = []
    for arch in ARCHITECTURES:
        model = _build(arch, classes, weights)
        missing = _load_fused(model, weights)
        if not missing:
            return model.eval()
        problems.append(f"{arch}: {len(missing)} weights unmatched, e.g. {missing[0]}")
    raise UserFacingError("no known architecture matches the ONNX weights: " + "; ".join(problems))


def _build(arch: str, classes: int, weights: dict[str, np.ndarray]) -> Any:
    """A ``DetectionModel`` whose class branches are as wide as the ONNX file's.

    The class branch width depends on the class count it was first built for: a model
    fine-tuned from COCO keeps COCO's width (80) with its own few classes, because
    Ultralytics' weight transfer rebuilds the branch at the source width. So the model is
    built for that width and its last class layers are then cut to ``classes`` outputs.
    """
    from torch import nn
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel(arch, nc=classes, verbose=False)
    head_index = len(model.model) - 1
    last = len(model.model[-1].cv3[0]) - 1
    onnx_width = weights.get(f"model.{head_index}.cv3.0.{last}.weight")
    width = model.model[-1].cv3[0][last].in_channels
    if onnx_width is None or onnx_width.shape[1] == width:
        return model
    model = DetectionModel(arch, nc=int(onnx_width.shape[1]), verbose=False)
    head = model.model[-1]
    for branch in head.cv3:
        branch[last] = nn.Conv2d(branch[last].in_channels, classes, 1)
    head.nc = classes
    head.no = classes + head.reg_max * 4
    model.yaml["nc"] = classes
    model.nc = classes
    return model


def _load_fused(model: Any, weights: dict[str, np.ndarray]) -> list[str]:
    """Copy fused ONNX weights into ``model``; return what did not match (empty on success)."""
    import torch
    from torch import nn

    missing: list[str] = []
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, module in modules.items():
            if not isinstance(module, nn.Conv2d):
                continue
            weight = weights.get(f"{name}.weight")
            if weight is None or tuple(weight.shape) != tuple(module.weight.shape):
                missing.append(f"{name}.weight")
                continue
            module.weight.copy_(torch.from_numpy(weight.copy()))
            bias = weights.get(f"{name}.bias")
            parent = modules.get(name.rsplit(".", 1)[0]) if "." in name else None
            batch_norm = getattr(parent, "bn", None)
            if isinstance(batch_norm, nn.BatchNorm2d) and module.bias is None:
                _identity_batch_norm(batch_norm, bias, missing, name)
            elif module.bias is not None:
                if bias is None:
                    missing.append(f"{name}.bias")
                else:
                    module.bias.copy_(torch.from_numpy(bias.copy()))
    return missing


def _identity_batch_norm(
    batch_norm: Any, bias: np.ndarray | None, missing: list[str], name: str
) -> None:
    """Make ``batch_norm`` pass its input through plus the fused ``bias``."""
    import torch

    if bias is None or bias.shape[0] != batch_norm.num_features:
        missing.append(f"{name}.bias")
        return
    batch_norm.weight.fill_(1.0)
    batch_norm.bias.copy_(torch.from_numpy(bias.copy()))
    batch_norm.running_mean.zero_()
    batch_norm.running_var.fill_(1.0 - batch_norm.eps)


def calibrate_batch_norm(model: Any, images: Sequence[Path], imgsz: int) -> None:
    """Give every identity BatchNorm the statistics of its input on real images.

    With input mean ``m`` and variance ``v`` per channel, setting running mean ``m``,
    running variance ``v``, scale ``sqrt(v + eps)`` and bias ``b + m`` keeps the layer an
    exact ``x + b`` in inference, and close to it in training, where batch statistics replace
    the running ones. So fine-tuning starts from the model the ONNX file holds.
    """
    import torch
    from torch import nn

    batch = torch.from_numpy(np.stack([_letterboxed(path, imgsz) for path in images]))
    stats: dict[nn.BatchNorm2d, tuple[Any, Any]] = {}

    def record(layer: nn.BatchNorm2d, inputs: tuple[Any, ...], _output: Any) -> None:
        values = inputs[0].detach().double()
        stats[layer] = (values.mean(dim=(0, 2, 3)), values.var(dim=(0, 2, 3), unbiased=False))

    layers = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    hooks = [layer.register_forward_hook(record) for layer in layers]
    model.float().eval()
    with torch.no_grad():
        model(batch)
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        for layer, (mean, var) in stats.items():
            layer.running_mean.copy_(mean)
            layer.running_var.copy_(var)
            layer.weight.copy_((var + layer.eps).sqrt())
            layer.bias.add_(mean)
    logger.info("calibrated %d BatchNorm layers on %d images", len(stats), len(images))


def _letterboxed(path: Path, imgsz: int) -> np.ndarray:
    """An image as the detector feeds it: letterboxed to ``imgsz``, RGB, 0..1, CHW float32."""
    import cv2

    image = cv2.imread(str(path))
    if image is None:
        raise UserFacingError(f"calibration image {path} is unreadable")
    padded, _ = letterbox(image, (imgsz, imgsz))
    return np.asarray(to_blob([padded])[0])
