r"""Riders' heads found inside COCO's rider boxes, scored on road cameras no model saw.

Issue 23 asks for bare-head AP50 ≥ 0.60 on road-camera frames, and suggests classifying the
head inside each rider's box instead of running a full-frame head detector. The shipped head
detector (``vn-helmet``) was trained on both labelled road cameras of ``data/helmet``, so its
figures there are seen-camera figures. This benchmark measures the other route, where no
model has seen the camera it is scored on:

1. COCO yolov8n (never trained here) finds people in the road frames: 960, with the frames
   given their 16:9 shape back, as :mod:`models.loso` does.
2. A small network places the head inside the top of each person box. It is trained on the
   ``helmet_web`` development photos and on the *other* road camera.
3. The head classifier (:mod:`models.head_classifier`, the edge's ``vn-head-classifier``
   recipe) says bare or helmet. It is also trained without the camera being scored.
4. Each head is scored as the edge scores a re-classified head (the person's score times the
   classifier's certainty, :func:`edge.enrich.head_classifier.relabel_heads`), and AP50 is
   computed per class against the labelled heads (:func:`models.metrics.evaluate`).

Run (about 15 minutes on 2 cores: two folds of a 5-minute localiser training)::

    python -m benchmarks.heads_from_riders --out benchmarks/results/heads_from_riders_loso.json

Written by hand: no library places a head inside a person box. The localiser is a
126 k-parameter CNN trained with torchvision's GIoU loss plus L1.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.detections import Detections
from edge.detector import Detector, DetectorConfig
from edge.detector.resolve import bundled_model
from edge.enrich.head_classifier import relabel_heads
from edge.enrich.head_crops import CONTEXT, CROP_SIZE, crop_heads
from models.crossval import load_sites, photo_sites
from models.dataset import YoloDataset
from models.evaluate import detect_at_aspect
from models.head_classifier import (
    BARE,
    CLASS_NAMES,
    HELMET,
    ROAD_CAMERAS,
    TrainOptions,
    bare_probability,
    collect_heads,
    is_holdout,
    part_mask,
)
from models.head_classifier import train as train_classifier
from models.loso import machine
from models.metrics import ImageBoxes, box_iou, evaluate
from traffic_monitor.shared_data import shared_path

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
SIDE = 64
"""Side of the localiser's input: the top of a person box, resized."""
ROAD_ASPECT = 16 / 9
"""The road frames of ``data/helmet`` are 16:9 camera frames stored squeezed to 640 x 640."""
PERSON = 0
"""COCO's ``person``."""
HOST_SCORE = 0.25
"""Person boxes that teach the localiser (and whose head placement is reported)."""
PROPOSAL_SCORE = 0.01
"""Person boxes whose heads are scored (low, as for any AP)."""
HEAD_NMS_IOU = 0.5
"""Two head boxes overlapping more than this are one head (duplicate person boxes)."""


def crop_box(person: npt.ArrayLike) -> FloatArray:
    """The part of a person box that holds the head: its top half, a little wider."""
    x1, y1, x2, y2 = np.asarray(person, dtype=np.float64)
    width, height = x2 - x1, y2 - y1
    return np.array([x1 - 0.15 * width, y1 - 0.1 * height, x2 + 0.15 * width, y1 + 0.5 * height])


def cut(image: np.ndarray[Any, Any], box: FloatArray) -> npt.NDArray[np.uint8]:
    """``box`` of the image resized to ``SIDE`` x ``SIDE`` (grey where it leaves the frame)."""
    x1, y1, x2, y2 = box
    sx, sy = SIDE / max(x2 - x1, 1e-6), SIDE / max(y2 - y1, 1e-6)
    matrix = np.array([[sx, 0, -x1 * sx], [0, sy, -y1 * sy]], dtype=np.float32)
    shrink = cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, matrix, (SIDE, SIDE), flags=shrink, borderValue=(114, 114, 114))
    return np.asarray(crop, dtype=np.uint8)


def to_crop(head: npt.ArrayLike, box: FloatArray) -> npt.NDArray[np.float32]:
    """A head box in the crop's unit square (the localiser's target)."""
    hx1, hy1, hx2, hy2 = np.asarray(head, dtype=np.float64)
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    unit = [(hx1 - x1) / width, (hy1 - y1) / height, (hx2 - x1) / width, (hy2 - y1) / height]
    return np.array(unit, dtype=np.float32)


def to_frame(unit: npt.ArrayLike, persons: npt.ArrayLike) -> FloatArray:
    """Head boxes given in each person's crop unit square, back in frame pixels."""
    unit = np.asarray(unit, dtype=np.float64).reshape(-1, 4)
    boxes = np.array([crop_box(p) for p in np.asarray(persons).reshape(-1, 4)]).reshape(-1, 4)
    origin = np.tile(boxes[:, :2], 2)
    size = np.tile(boxes[:, 2:] - boxes[:, :2], 2)
    result: FloatArray = origin + unit * size
    return result


def hosts(persons: FloatArray, heads: FloatArray) -> list[tuple[int, int]]:
    """``(person, head)`` pairs: the head's centre is in the person's top 45 %.

    Each person hosts one head (the one nearest its top); a head whose centre sits in no
    person box is left out.
    """
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    tall = persons[:, 3] - persons[:, 1]
    for j, (x1, y1, x2, y2) in enumerate(heads):
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        inside = (persons[:, 0] <= cx) & (cx <= persons[:, 2])
        inside &= (persons[:, 1] - 0.1 * tall <= cy) & (cy <= persons[:, 1] + 0.45 * tall)
        free = [int(i) for i in np.flatnonzero(inside) if int(i) not in used]
        if free:
            best = min(free, key=lambda i: abs(persons[i, 1] - y1))
            used.add(best)
            pairs.append((best, j))
    return pairs


def jitter(person: FloatArray, rng: np.random.Generator) -> FloatArray:
    """The person box as another detector run might give it (±10 % size, ±6 % shift)."""
    x1, y1, x2, y2 = person
    width, height = x2 - x1, y2 - y1
    scale = rng.uniform(0.9, 1.1, 2)
    cx = (x1 + x2) / 2 + rng.uniform(-0.06, 0.06) * width
    cy = (y1 + y2) / 2 + rng.uniform(-0.06, 0.06) * height
    half_w, half_h = scale[0] * width / 2, scale[1] * height / 2
    return np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h])


@dataclass
class Samples:
    """Localiser training samples: crops of the tops of person boxes and their head boxes."""

    crops: list[npt.NDArray[np.uint8]]
    targets: list[npt.NDArray[np.float32]]

    def add(
        self,
        image: np.ndarray[Any, Any],
        persons: FloatArray,
        heads: FloatArray,
        views: int,
        rng: np.random.Generator,
    ) -> None:
        """Add ``views`` crops (the first as found, the others jittered) per hosted head."""
        for i, j in hosts(persons, heads):
            for view in range(views):
                box = crop_box(jitter(persons[i], rng) if view else persons[i])
                self.crops.append(cut(image, box))
                self.targets.append(to_crop(heads[j], box))


@dataclass(frozen=True)
class RoadFrame:
    """One road-camera frame, given its 16:9 shape back, with COCO's people and the labels."""

    name: str
    site: str
    image: np.ndarray[Any, Any]
    persons: FloatArray
    scores: FloatArray
    heads: FloatArray
    classes: npt.NDArray[np.int64]

    @property
    def squeeze(self) -> FloatArray:
        """Multiplier from these pixels back to the stored (squeezed) image's."""
        return np.array([640 / self.image.shape[1], 1.0, 640 / self.image.shape[1], 1.0])


def road_frames(detector: Detector, limit: int | None = None) -> list[RoadFrame]:
    """The road-camera frames of ``data/helmet`` with COCO's people (``limit`` per camera)."""
    table = load_sites("vn-helmet")
    dataset = YoloDataset(shared_path("data", "helmet"))
    frames: list[RoadFrame] = []
    taken: dict[str, int] = {}
    for path, (image, labels) in zip(dataset.image_paths, dataset, strict=True):
        site = table.site_of[path.name]
        if site not in ROAD_CAMERAS or (limit is not None and taken.get(site, 0) >= limit):
            continue
        taken[site] = taken.get(site, 0) + 1
        found = detect_at_aspect(detector, image, ROAD_ASPECT)
        found = found[(found.class_id == PERSON) & (found.confidence >= PROPOSAL_SCORE)]
        restored = cv2.resize(image, (round(image.shape[0] * ROAD_ASPECT), image.shape[0]))
        stretch = np.array([restored.shape[1] / image.shape[1], 1.0] * 2)
        frames.append(
            RoadFrame(
                path.name,
                site,
                restored,
                found.xyxy.astype(np.float64) * stretch,
                found.confidence.astype(np.float64),
                labels.xyxy.astype(np.float64) * stretch,
                labels.class_id.astype(np.int64),
            )
        )
    return frames


def web_samples(detector: Detector, limit: int | None, rng: np.random.Generator) -> Samples:
    """Localiser samples from the ``helmet_web`` development photos (3 views per head)."""
    root = shared_path("data", "helmet_web")
    sites = photo_sites(root)
    samples = Samples([], [])
    dataset = YoloDataset(root)
    used = 0
    for path, (image, labels) in zip(dataset.image_paths, dataset, strict=True):
        if is_holdout("web:" + sites.site_of[path.name]):
            continue  # the untouched photos stay untouched
        if limit is not None and used >= limit:
            break
        used += 1
        found = detector.detect_one(image)
        people = found[(found.class_id == PERSON) & (found.confidence >= HOST_SCORE)]
        samples.add(image, people.xyxy.astype(np.float64), labels.xyxy, 3, rng)
    return samples


def build_localiser() -> torch.nn.Module:
    """Six 3 x 3 convolutions (stride 16 in all), pooled, four outputs."""
    from torch import nn

    def block(inputs: int, outputs: int, stride: int) -> list[nn.Module]:
        conv = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        return [conv, nn.BatchNorm2d(outputs), nn.ReLU(inplace=True)]

    widths = [(3, 16, 2), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 96, 2)]
    layers = [layer for spec in widths for layer in block(*spec)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, 4))


def _tensor(crops: npt.NDArray[np.uint8]) -> torch.Tensor:
    import torch

    rgb = np.ascontiguousarray(crops[..., ::-1])
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255


def _boxes(raw: torch.Tensor) -> torch.Tensor:
    """Network outputs as boxes: top-left, then a positive size."""
    import torch
    from torch.nn import functional

    return torch.cat([raw[:, :2], raw[:, :2] + functional.softplus(raw[:, 2:])], dim=1)


def _mirror(crops: torch.Tensor, targets: torch.Tensor, flip: torch.Tensor) -> None:
    """Mirror the rows of ``flip`` in place, crops and head boxes alike."""
    crops[flip] = crops[flip].flip(3)
    left = targets[flip, 0].clone()
    targets[flip, 0] = 1 - targets[flip, 2]
    targets[flip, 2] = 1 - left


def train_localiser(samples: Samples, epochs: int, seed: int = 0) -> torch.nn.Module:
    """Train the localiser (mirror and brightness augmentation, GIoU + L1 loss)."""
    import torch
    from torch.nn import functional
    from torchvision.ops import generalized_box_iou_loss

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    crops, targets = np.stack(samples.crops), np.stack(samples.targets)
    network = build_localiser()
    count, batch = len(crops), 128
    optimiser = torch.optim.AdamW(network.parameters(), 2e-3, weight_decay=1e-4)
    steps = epochs * -(-count // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=steps)
    for _ in range(epochs):
        network.train()
        order = torch.randperm(count, generator=generator).numpy()
        for start in range(0, count, batch):
            rows = order[start : start + batch]
            x, y = _tensor(crops[rows]), torch.from_numpy(targets[rows])
            _mirror(x, y, torch.rand(len(rows), generator=generator) < 0.5)
            gain = torch.empty(len(rows), 1, 1, 1).uniform_(0.7, 1.3, generator=generator)
            shift = torch.empty(len(rows), 3, 1, 1).uniform_(-0.08, 0.08, generator=generator)
            pred = _boxes(network(x * gain + shift))
            loss = generalized_box_iou_loss(pred, y, reduction="mean")
            loss = loss + functional.l1_loss(pred, y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return network.eval()


def place_heads(
    network: torch.nn.Module, image: np.ndarray[Any, Any], persons: FloatArray
) -> FloatArray:
    """Head boxes (frame pixels), one per person box."""
    import torch

    if len(persons) == 0:
        return np.empty((0, 4))
    crops = np.stack([cut(image, crop_box(p)) for p in persons])
    with torch.no_grad():
        unit = _boxes(network(_tensor(crops))).numpy()
    return to_frame(unit, persons)


def one_box_per_head(boxes: FloatArray, scores: FloatArray) -> npt.NDArray[np.intp]:
    """Indices kept by NMS (duplicate person boxes give duplicate heads)."""
    if len(boxes) == 0:
        return np.empty(0, dtype=np.intp)
    xywh = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in boxes]
    kept = cv2.dnn.NMSBoxes(xywh, scores.tolist(), 0.0, HEAD_NMS_IOU)
    return np.asarray(kept, dtype=np.intp).reshape(-1)


def score_frame(
    frame: RoadFrame, localiser: torch.nn.Module, classifier: torch.nn.Module
) -> ImageBoxes:
    """The frame's heads, placed, re-classified and scored as the edge would, in stored pixels."""
    heads = place_heads(localiser, frame.image, frame.persons)
    keep = one_box_per_head(heads, frame.scores)
    heads, scores = heads[keep], frame.scores[keep]
    p_bare = bare_probability(classifier, crop_heads(frame.image, heads, CROP_SIZE, CONTEXT))
    found = Detections(
        heads.astype(np.float32), scores.astype(np.float32), np.zeros(len(heads), dtype=np.int64)
    )
    found = relabel_heads(found, p_bare, BARE, HELMET)
    return ImageBoxes(
        frame.heads * frame.squeeze,
        frame.classes,
        found.xyxy.astype(np.float64) * frame.squeeze,
        found.confidence.astype(np.float64),
        found.class_id,
    )


def placement(frames: Sequence[RoadFrame], localiser: torch.nn.Module) -> dict[str, float]:
    """Share of labelled heads whose best placed head (persons ≥ 0.25) overlaps them enough."""
    best: list[float] = []
    for frame in frames:
        hosts_ = frame.persons[frame.scores >= HOST_SCORE]
        placed = place_heads(localiser, frame.image, hosts_)
        overlap = box_iou(frame.heads, placed)
        best += (overlap.max(axis=1) if placed.size else np.zeros(len(frame.heads))).tolist()
    values = np.asarray(best)
    return {
        "heads": len(values),
        "iou_at_least_0.5": round(float((values >= 0.5).mean()), 3) if len(values) else 0.0,
        "iou_at_least_0.3": round(float((values >= 0.3).mean()), 3) if len(values) else 0.0,
        "median_iou": round(float(np.median(values)), 3) if len(values) else 0.0,
    }


def road_samples(frames: Sequence[RoadFrame], rng: np.random.Generator) -> Samples:
    """Localiser samples from road frames (8 views per head: these cameras are few)."""
    samples = Samples([], [])
    for frame in frames:
        hosts_ = frame.persons[frame.scores >= HOST_SCORE]
        samples.add(frame.image, hosts_, frame.heads, 8, rng)
    return samples


def folds(frames: Sequence[RoadFrame]) -> Iterator[tuple[str, list[RoadFrame], list[RoadFrame]]]:
    """``(held-out camera, its frames, the other cameras' frames)``."""
    for camera in sorted({f.site for f in frames}):
        yield (
            camera,
            [f for f in frames if f.site == camera],
            [f for f in frames if f.site != camera],
        )


def _ap(images: Sequence[ImageBoxes]) -> dict[str, Any]:
    result = evaluate(images, CLASS_NAMES)
    return {
        c.name: {
            "ap50": None if c.ap50 is None else round(c.ap50, 3),
            "recall50": None if c.recall50 is None else round(c.recall50, 3),
            "ground_truth": c.ground_truth,
        }
        for c in result.classes
    }


def run(epochs: int = 25, limit: int | None = None) -> dict[str, Any]:
    """Leave one road camera out; ``limit`` images per source for a quick check."""
    rng = np.random.default_rng(0)
    model = bundled_model("coco-yolov8n")
    started = time.perf_counter()
    road = road_frames(Detector(DetectorConfig(model=model, confidence=0.001, imgsz=960)), limit)
    web = web_samples(Detector(DetectorConfig(model=model, confidence=0.05, imgsz=640)), limit, rng)
    heads = collect_heads(shared_path("data"))
    dev = part_mask(heads, "dev")
    report: dict[str, Any] = {"cameras": {}}
    pooled: list[ImageBoxes] = []
    for camera, held, others in folds(road):
        others_ = road_samples(others, rng)
        localiser = train_localiser(
            Samples(web.crops + others_.crops, web.targets + others_.targets), epochs
        )
        classifier = train_classifier(heads.subset(dev & (heads.site != camera)), TrainOptions())
        scored = [score_frame(frame, localiser, classifier) for frame in held]
        pooled += scored
        report["cameras"][camera] = {"placement": placement(held, localiser), "ap": _ap(scored)}
        logger.info("%s: %s", camera, report["cameras"][camera])
    report["road_cameras_pooled"] = _ap(pooled)
    report["settings"] = {"epochs": epochs, "limit": limit, "detector": "coco-yolov8n@960"}
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["machine"] = machine()
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--epochs", type=int, default=25, help="localiser epochs (25)")
    parser.add_argument(
        "--limit", type=int, help="images per camera and web photos (a quick check)"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/heads_from_riders.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    report = run(args.epochs, args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
