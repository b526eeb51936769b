"""The head classifier: helmet or bare head, from a crop of the frame around each head.

The full-frame head detector (``vn-helmet``) finds heads a few pixels wide and must also tell
a helmet from hair there; on cameras it never saw it finds helmeted heads far better than
bare ones. The edge can instead re-classify every head it found from a crop of the camera
frame at the frame's own resolution (:mod:`edge.enrich.head_crops`), with a small network
trained here on every labelled head of ``data/helmet`` (two road cameras, web photos) and
``data/helmet_web`` (web photos of riders), with augmentation that shrinks sharp web heads to
the few pixels of a distant rider (random low resolution, scale and shift of the crop, colour,
noise, mirror).

Figures are leave-one-site-out (:func:`loso`): each road camera of ``data/helmet`` is scored
by a classifier trained without it, the web photos fold by fold (copies of one photo
together). One fifth of the ``helmet_web`` photos (:func:`is_holdout`) is kept out of every
training and tuning run and scored once, at the end (``part="holdout"``).

Training needs torch (the ``torch`` extra); the edge only runs the exported ONNX file.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from edge.enrich.head_classifier import BUNDLED
from edge.enrich.head_crops import CONTEXT, CROP_SIZE, crop_heads
from models.crossval import Part, load_sites, photo_sites
from models.dataset import YoloDataset
from models.metrics import ImageBoxes

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

BARE, HELMET = 0, 1
"""Class ids of the labelled sets (``without_helmet``, ``helmet``) and of the output."""
CLASS_NAMES = ("head_no_helmet", "head_helmet")
TRAIN_SIZE = 48
"""Side of the stored training crops; they cover :data:`TRAIN_CONTEXT` head sides so that
the random scale and shift still find context around the central :data:`CONTEXT`."""
TRAIN_CONTEXT = CONTEXT * TRAIN_SIZE / CROP_SIZE
HOLDOUT_SHARE = 5
"""One ``helmet_web`` photo in this many (by a stable hash of its name) is held out."""


@dataclass(frozen=True)
class HeadSet:
    """Every labelled head: training and evaluation crops, class, site and image.

    Attributes:
        wide: Training crops (:data:`TRAIN_SIZE`, :data:`TRAIN_CONTEXT`), ``(N, 48, 48, 3)``.
        crops: Crops exactly as the edge cuts them, ``(N, 32, 32, 3)``.
        label: :data:`BARE` or :data:`HELMET`, ``(N,)``.
        site: Site of each head (a road camera, ``web_photos``, or ``web:<photo>``).
        image: Image name of each head (``<set>/<file>``).
    """

    wide: npt.NDArray[np.uint8]
    crops: npt.NDArray[np.uint8]
    label: npt.NDArray[np.int64]
    site: npt.NDArray[np.str_]
    image: npt.NDArray[np.str_]

    def subset(self, mask: npt.NDArray[np.bool_]) -> HeadSet:
        """The heads where ``mask`` is true."""
        return HeadSet(
            self.wide[mask], self.crops[mask], self.label[mask], self.site[mask], self.image[mask]
        )

    def __len__(self) -> int:
        return len(self.label)


def is_holdout(site: str) -> bool:
    """Whether a site is in the untouched part (a fifth of the ``helmet_web`` photos)."""
    return site.startswith("web:") and zlib.crc32(site.encode()) % HOLDOUT_SHARE == 0


def part_mask(heads: HeadSet, part: Part) -> npt.NDArray[np.bool_]:
    """Heads of ``dev`` (everything tuned on), ``holdout`` or ``all``."""
    held = np.array([is_holdout(str(s)) for s in heads.site], dtype=bool)
    if part == "all":
        return np.ones(len(heads), dtype=bool)
    result: npt.NDArray[np.bool_] = held if part == "holdout" else ~held
    return result


def collect_heads(data_root: Path) -> HeadSet:
    """Cut every labelled head of ``data/helmet`` and ``data/helmet_web``.

    Raises:
        DatasetError: A set is missing or malformed.
    """
    parts: list[HeadSet] = []
    for folder in ("helmet", "helmet_web"):
        root = data_root / folder
        table = load_sites("vn-helmet") if folder == "helmet" else photo_sites(root)
        prefix = "" if folder == "helmet" else "web:"
        parts.extend(_heads_of(YoloDataset(root), folder, prefix, table.site_of))
    return HeadSet(
        np.concatenate([p.wide for p in parts]),
        np.concatenate([p.crops for p in parts]),
        np.concatenate([p.label for p in parts]),
        np.concatenate([p.site for p in parts]),
        np.concatenate([p.image for p in parts]),
    )


def _heads_of(dataset: YoloDataset, folder: str, prefix: str, site_of: Any) -> list[HeadSet]:
    found = []
    for image, labels in dataset:
        if len(labels.class_id) == 0:
            continue
        count = len(labels.class_id)
        found.append(
            HeadSet(
                crop_heads(image, labels.xyxy, TRAIN_SIZE, TRAIN_CONTEXT),
                crop_heads(image, labels.xyxy, CROP_SIZE, CONTEXT),
                labels.class_id.astype(np.int64),
                np.array([prefix + site_of[labels.path.name]] * count),
                np.array([f"{folder}/{labels.path.name}"] * count),
            )
        )
    return found


def folds(heads: HeadSet, web_folds: int = 3) -> list[list[str]]:
    """Held-out site groups of the ``dev`` part.

    Each site of ``data/helmet`` is a group; the ``helmet_web`` photos are dealt into
    ``web_folds`` groups by a stable hash of their name.
    """
    dev = {str(s) for s in heads.site[part_mask(heads, "dev")]}
    groups = [[s] for s in sorted(s for s in dev if not s.startswith("web:"))]
    web = sorted(s for s in dev if s.startswith("web:"))
    dealt: list[list[str]] = [[] for _ in range(web_folds)]
    for site in web:
        dealt[zlib.crc32(site.encode()) // HOLDOUT_SHARE % web_folds].append(site)
    return groups + dealt


# --- the network (torch) -----------------------------------------------------------------


def build_network(width: int = 16) -> torch.nn.Module:
    """A small all-convolution network: 32×32 RGB → two logits (bare, helmet)."""
    from torch import nn

    def block(inputs: int, outputs: int, stride: int) -> list[nn.Module]:
        return [
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
        ]

    w = width
    return nn.Sequential(
        *block(3, w, 1),
        *block(w, 2 * w, 2),
        *block(2 * w, 2 * w, 1),
        *block(2 * w, 4 * w, 2),
        *block(4 * w, 4 * w, 1),
        *block(4 * w, 8 * w, 2),
        *block(8 * w, 8 * w, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(8 * w, 2),
    )


def to_tensor(crops: npt.NDArray[np.uint8]) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 RGB → ``(N, 3, H, W)`` float in 0..1 (the ONNX input)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float() / 255


def augment(wide: torch.Tensor, generator: torch.Generator, hue_share: float = 0.0) -> torch.Tensor:
    """Training views of wide crops: scale, shift, mirror, low resolution, colour, noise.

    Args:
        wide: ``(B, 3, 48, 48)`` crops of :data:`TRAIN_CONTEXT` head sides.
        generator: The run's random generator (reproducible runs).
        hue_share: Share of the views whose colours are turned around the grey axis by a
            random angle (a red helmet becomes a blue one; black hair stays black).

    Returns:
        ``(B, 3, 32, 32)`` views around the central :data:`CONTEXT` head sides.
    """
    import torch
    import torch.nn.functional as f

    count = wide.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * (high - low) + low

    scale = uniform(0.8, 1.2, count) * (CROP_SIZE / TRAIN_SIZE)
    mirror = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(count, 2, 3)
    # a horizontal squeeze of up to 16:9 → 1:1: labelled road frames were stored squeezed
    squeeze = uniform(1.0, 1.8, count)
    theta[:, 0, 0], theta[:, 1, 1] = scale * mirror * squeeze, scale
    theta[:, 0, 2], theta[:, 1, 2] = uniform(-0.12, 0.12, count), uniform(-0.12, 0.12, count)
    grid = f.affine_grid(theta, [count, 3, CROP_SIZE, CROP_SIZE], align_corners=False)
    views = f.grid_sample(wide, grid, align_corners=False, padding_mode="border")
    views = _low_resolution(views, generator)
    mean = views.mean((1, 2, 3), keepdim=True)
    views = (views - mean) * uniform(0.7, 1.3, count, 1, 1, 1) + mean
    views = views + uniform(-0.15, 0.15, count, 1, 1, 1)
    gray = views.mean(1, keepdim=True)
    views = gray + (views - gray) * uniform(0.5, 1.3, count, 1, 1, 1)
    if hue_share > 0:
        views = _rotate_hue(views, generator, hue_share)
    noise = torch.randn(views.shape, generator=generator) * uniform(0, 0.04, count, 1, 1, 1)
    return (views + noise).clamp(0, 1)


def _rotate_hue(views: torch.Tensor, generator: torch.Generator, share: float) -> torch.Tensor:
    """Turn the colours of ``share`` of the views about the grey axis (Rodrigues' rotation)."""
    import torch

    count = views.shape[0]
    angle = (torch.rand(count, generator=generator) * 2 - 1) * torch.pi
    angle = torch.where(torch.rand(count, generator=generator) < share, angle, 0.0)
    axis = torch.full((3,), 3**-0.5)
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]) * 3**-0.5
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    rotation = cos * torch.eye(3) + sin * cross + (1 - cos) * torch.outer(axis, axis)
    return torch.einsum("bij,bjhw->bihw", rotation, views)


def _low_resolution(views: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each view shrunk to a random 7..32 px and blown up again (a distant rider's head)."""
    import torch
    import torch.nn.functional as f

    sides = torch.randint(7, CROP_SIZE + 1, (views.shape[0],), generator=generator)
    out = views.clone()
    for side in sides.unique().tolist():
        if side >= CROP_SIZE:
            continue
        rows = sides == side
        small = f.interpolate(views[rows], size=(side, side), mode="area")
        out[rows] = f.interpolate(
            small, size=(CROP_SIZE, CROP_SIZE), mode="bilinear", align_corners=False
        )
    return out


@dataclass(frozen=True)
class TrainOptions:
    """One training run (the defaults are the shipped model's recipe).

    Attributes:
        epochs: Passes over the training heads (the last epoch is kept; no early stopping
            on a held-out figure).
        batch: Heads per step.
        width: Channels of the first layer (the network doubles them three times).
        seed: Seed of weights, order and augmentation.
        hue_share: Share of training views with their colours turned (:func:`augment`).
    """

    epochs: int = 15
    batch: int = 128
    width: int = 16
    seed: int = 0
    hue_share: float = 0.0


def train(heads: HeadSet, options: TrainOptions = TrainOptions()) -> torch.nn.Module:
    """Train the classifier on ``heads`` (classes weighted to balance bare and helmet).

    Returns:
        The network in evaluation mode.
    """
    import torch
    import torch.nn.functional as f

    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    network = build_network(options.width)
    wide, label = to_tensor(heads.wide), torch.from_numpy(heads.label)
    count = len(label)
    steps = options.epochs * -(-count // options.batch)
    optimiser = torch.optim.AdamW(network.parameters(), 2e-3, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 4e-3, total_steps=steps)
    weights = count / (2 * torch.bincount(label, minlength=2).clamp(min=1).float())
    for epoch in range(options.epochs):
        network.train()
        order = torch.randperm(count, generator=generator)
        for start in range(0, count, options.batch):
            rows = order[start : start + options.batch]
            logits = network(augment(wide[rows], generator, options.hue_share))
            loss = f.cross_entropy(logits, label[rows], weight=weights, label_smoothing=0.05)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        logger.debug("epoch %d: last loss %.3f", epoch, float(loss.detach()))
    return network.eval()


def bare_probability(network: torch.nn.Module, crops: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
    """The network's probability of a bare head for each crop (as the ONNX file computes)."""
    import torch

    if len(crops) == 0:
        return np.empty(0, dtype=np.float32)
    network.eval()  # batch-norm statistics of training, never of these crops
    with torch.no_grad():
        probability = torch.softmax(network(to_tensor(crops)), dim=1)[:, BARE]
    result: npt.NDArray[np.float32] = probability.numpy().astype(np.float32)
    return result


def export_onnx(network: torch.nn.Module, path: Path, trained_on: Sequence[str] = ()) -> None:
    """Write the network as ONNX with its crop geometry and class names in the metadata.

    Input ``crops`` ``(N, 3, 32, 32)`` RGB in 0..1; output ``probabilities`` ``(N, 2)``
    (softmax over ``head_no_helmet``, ``head_helmet``).
    """
    import onnx
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)

    example = torch.zeros(1, 3, CROP_SIZE, CROP_SIZE)
    torch.onnx.export(
        torch.nn.Sequential(network, torch.nn.Softmax(dim=1)).eval(),
        (example,),
        str(path),
        input_names=["crops"],
        output_names=["probabilities"],
        dynamic_axes={"crops": {0: "n"}, "probabilities": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    model = onnx.load(str(path))
    metadata = {
        "names": ",".join(CLASS_NAMES),
        "crop_size": str(CROP_SIZE),
        "context": str(CONTEXT),
        "trained_on": ",".join(trained_on),
    }
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


# --- leave-one-site-out figures ----------------------------------------------------------


@dataclass(frozen=True)
class Proposals:
    """The head detector's boxes on one image (every class, low score floor).

    Attributes:
        xyxy: Boxes in the image's pixels, ``(P, 4)``.
        score: Detector scores, ``(P,)``.
        class_id: Detector classes (:data:`BARE` / :data:`HELMET`), ``(P,)``.
    """

    xyxy: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    class_id: npt.NDArray[np.int64]


def propose_heads(
    data_root: Path, images: Sequence[str], detector_model: Path
) -> dict[str, Proposals]:
    """Run the full-frame head detector on each image (``<set>/<file>`` names).

    Its boxes are kept class by class (the detector's own verdict, for comparison) with a
    score floor of 0.001, as for any AP.
    """
    import cv2

    from edge.detector import Detector, DetectorConfig

    detector = Detector(DetectorConfig(model=detector_model, confidence=0.001, iou=0.6))
    found: dict[str, Proposals] = {}
    for name in images:
        image = cv2.imread(str(data_root / name.replace("/", "/images/", 1)))
        if image is None:
            raise FileNotFoundError(f"{data_root / name}: unreadable")
        boxes = detector.detect_one(image)
        found[name] = Proposals(
            boxes.xyxy.astype(np.float64),
            boxes.confidence.astype(np.float64),
            boxes.class_id.astype(np.int64),
        )
    return found


def detector_alone(found: Proposals) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """The detector's own boxes, scores and classes (the figure without the classifier)."""
    return found.xyxy, found.score, found.class_id


def with_classifier(
    found: Proposals, image: np.ndarray[Any, Any], classify: Any
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """The detector's heads (one box per head, any class), re-classified from crops.

    ``classify(crops) -> bare probabilities`` is the fold's network; the steps are the
    edge's (:func:`edge.enrich.helmet.one_class_per_head`, :func:`relabel_heads`).
    """
    from edge.detections import Detections
    from edge.enrich.head_classifier import relabel_heads
    from edge.enrich.helmet import one_class_per_head

    heads = one_class_per_head(
        Detections(found.xyxy.astype(np.float32), found.score.astype(np.float32), found.class_id)
    )
    p_bare = classify(crop_heads(image, heads.xyxy, CROP_SIZE, CONTEXT))
    heads = relabel_heads(heads, p_bare, BARE, HELMET)
    return heads.xyxy, heads.confidence, heads.class_id


def slice_of(site: str) -> str:
    """The reported slice of a site: a road camera, ``web_photos`` or ``helmet_web``."""
    return "helmet_web" if site.startswith("web:") else site


ROAD_CAMERAS = ("underpass_camera", "roadside_camera")
"""The road-camera sites of ``data/helmet`` (pooled as ``road_cameras`` in the report)."""


def loso(
    data_root: Path,
    detector_model: Path,
    part: Part = "dev",
    options: TrainOptions = TrainOptions(),
    heads: HeadSet | None = None,
) -> dict[str, Any]:
    """Leave-one-site-out figures of the classifier, alone and behind the head detector.

    ``dev``: each group of :func:`folds` is scored by a classifier trained on the other
    groups. ``holdout``: the untouched ``helmet_web`` photos, scored once by a classifier
    trained on the whole ``dev`` part (the shipped recipe).

    Returns:
        Per slice (each road camera, ``road_cameras`` pooled, ``web_photos``,
        ``helmet_web``): classification of the labelled heads (bare AP, accuracy) and
        detection AP50 per class, the detector alone against detector + classifier.
    """
    heads = heads if heads is not None else collect_heads(data_root)
    dev = part_mask(heads, "dev")
    groups = folds(heads) if part == "dev" else [sorted(set(heads.site[~dev].tolist()))]
    p_bare = np.full(len(heads), np.nan, dtype=np.float32)
    boxes: dict[str, ImageBoxesPair] = {}
    for index, group in enumerate(groups):
        held = np.isin(heads.site, group)
        network = train(heads.subset(dev & ~held), options)
        p_bare[held] = bare_probability(network, heads.crops[held])
        images = _one_copy_per_photo(heads.subset(held))
        proposals = propose_heads(data_root, images, detector_model)
        boxes.update(_image_boxes(data_root, heads.subset(held), proposals, network))
        logger.info("fold %d/%d: %d heads held out", index + 1, len(groups), int(held.sum()))
    scored = ~np.isnan(p_bare)
    return _report(heads.subset(scored), p_bare[scored], boxes, part, options)


@dataclass(frozen=True)
class ImageBoxesPair:
    """One held-out image scored without and with the classifier."""

    site: str
    alone: ImageBoxes
    classified: ImageBoxes


def _one_copy_per_photo(heads: HeadSet) -> list[str]:
    """Image names of the heads, one augmented copy per web photo (the first by name)."""
    first: dict[str, str] = {}
    for image, site in sorted(zip(heads.image.tolist(), heads.site.tolist(), strict=True)):
        key = site if site.startswith("web:") else image
        first.setdefault(key, image)
    return sorted(first.values())


def _image_boxes(
    data_root: Path, heads: HeadSet, proposals: dict[str, Proposals], network: torch.nn.Module
) -> dict[str, ImageBoxesPair]:
    result: dict[str, ImageBoxesPair] = {}
    datasets: dict[str, YoloDataset] = {}
    for name, found in proposals.items():
        folder = name.split("/", 1)[0]
        if folder not in datasets:  # indexing a folder lists every image: once per folder
            datasets[folder] = YoloDataset(data_root / folder)
        image, labels = datasets[folder].load(data_root / name.replace("/", "/images/", 1))
        site = str(heads.site[heads.image == name][0])
        gt = (labels.xyxy, labels.class_id)
        result[name] = ImageBoxesPair(
            site,
            ImageBoxes(*gt, *detector_alone(found)),
            ImageBoxes(*gt, *with_classifier(found, image, lambda c: bare_probability(network, c))),
        )
    return result


def average_precision(score: npt.NDArray[Any], positive: npt.NDArray[np.bool_]) -> float | None:
    """Area under the precision-recall curve of ranking by ``score`` (None: no positive)."""
    if not positive.any():
        return None
    hits = positive[np.argsort(-score, kind="stable")]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def _classification(label: npt.NDArray[np.int64], p_bare: npt.NDArray[Any]) -> dict[str, Any]:
    bare = label == BARE
    ap = average_precision(p_bare, bare)
    return {
        "heads": len(label),
        "bare_heads": int(bare.sum()),
        "bare_ap": None if ap is None else round(ap, 4),
        "accuracy": round(float(((p_bare >= 0.5) == bare).mean()), 4) if len(label) else None,
        "bare_recall": round(float((p_bare[bare] >= 0.5).mean()), 4) if bare.any() else None,
    }


def _detection(pairs: Sequence[ImageBoxesPair]) -> dict[str, Any]:
    from models.metrics import evaluate

    figures: dict[str, Any] = {"images": len(pairs)}
    for key in ("alone", "classified"):
        result = evaluate([getattr(p, key) for p in pairs], CLASS_NAMES)
        figures[key] = {
            c.name: {"ap50": _round(c.ap50), "recall50": _round(c.recall50)} for c in result.classes
        }
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _report(
    heads: HeadSet,
    p_bare: npt.NDArray[Any],
    boxes: dict[str, ImageBoxesPair],
    part: Part,
    options: TrainOptions,
) -> dict[str, Any]:
    slices = np.array([slice_of(str(s)) for s in heads.site])
    names = sorted(set(slices.tolist()))
    wanted = {name: slices == name for name in names}
    if any(name in ROAD_CAMERAS for name in names):
        wanted["road_cameras"] = np.isin(slices, ROAD_CAMERAS)
    report: dict[str, Any] = {"part": part, "slices": {}}
    for name, mask in wanted.items():
        members = {str(s) for s in heads.site[mask]}
        pairs = [pair for pair in boxes.values() if pair.site in members]
        report["slices"][name] = {
            "classification": _classification(heads.label[mask], p_bare[mask]),
            "detection": _detection(pairs),
            "detector_saw_this_slice": not name.startswith("helmet_web"),
        }
    report["settings"] = {**vars(options), "crop_size": CROP_SIZE, "context": CONTEXT}
    return report


BUNDLED_FILE = BUNDLED
"""Where ``models heads train`` writes the shipped classifier (the file the edge loads)."""


def train_and_export(
    data_root: Path, out: Path, options: TrainOptions = TrainOptions()
) -> dict[str, Any]:
    """Train the shipped classifier on the whole ``dev`` part and write it as ONNX.

    Returns:
        The training record (heads per class and site kind, settings, seconds), also
        written beside the model as ``training-<name>.json``.
    """
    started = time.perf_counter()
    heads = collect_heads(data_root)
    dev = heads.subset(part_mask(heads, "dev"))
    network = train(dev, options)
    export_onnx(network, out, trained_on=("data/helmet", "data/helmet_web (dev photos)"))
    record = {
        "command": f"traffic-monitor models heads train --epochs {options.epochs}",
        "heads": {name: int((dev.label == i).sum()) for i, name in enumerate(CLASS_NAMES)},
        "road_camera_heads": int(np.isin(dev.site, ROAD_CAMERAS).sum()),
        "web_photo_heads": int((~np.isin(dev.site, ROAD_CAMERAS)).sum()),
        "held_out_photos": len({str(s) for s in heads.site[part_mask(heads, "holdout")]}),
        "settings": {**vars(options), "crop_size": CROP_SIZE, "context": CONTEXT},
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {"torch": _torch_version()},
    }
    (out.parent / f"training-{out.stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def format_report(report: dict[str, Any]) -> str:
    """The LOSO report as a table: classification of labelled heads, then detection AP50."""
    lines = [
        f"{'slice':<18} {'heads':>5} {'bare':>5} {'bareAP':>6} {'acc':>5} | "
        f"{'imgs':>4} {'det bare':>8} {'det helm':>8} | {'+cls bare':>9} {'+cls helm':>9}"
    ]
    for name, figures in report["slices"].items():
        c, d = figures["classification"], figures["detection"]
        cells = [
            d[key][cls]["ap50"]
            for key in ("alone", "classified")
            for cls in ("head_no_helmet", "head_helmet")
        ]
        text = " ".join(f"{'-' if v is None else f'{v:.3f}':>8}" for v in cells[:2])
        text2 = " ".join(f"{'-' if v is None else f'{v:.3f}':>9}" for v in cells[2:])
        ap = "-" if c["bare_ap"] is None else f"{c['bare_ap']:.3f}"
        seen = " (detector saw it)" if figures["detector_saw_this_slice"] else ""
        lines.append(
            f"{name:<18} {c['heads']:>5} {c['bare_heads']:>5} {ap:>6} {c['accuracy']:5.3f} | "
            f"{d['images']:>4} {text} | {text2}{seen}"
        )
    return "\n".join(lines)
