"""Leave-one-site-out evaluation: accuracy as on a camera the model has never seen.

The shared labelled sets come from a few dozen cameras, several frames each. A figure on a
random (or even a scene-disjoint) validation split is about cameras the model was tuned on;
the product runs on cameras it has never seen. So every image is given its camera ("site")
and the site's scene type (``models/splits/<preset>/sites.yaml``, grouped by eye from the
thumbnail scenes of :mod:`models.split`), and accuracy is reported pooled, per scene type and
per site, each site scored by a model that never saw it:

* a model not trained on the set (the COCO models) scores every site as unseen as it is;
* a model trained here is scored fold by fold (:func:`site_folds`): the sites of a fold are
  held out of its training run, and its predictions on them are pooled with the other folds'.

A few sites (``holdout`` in ``sites.yaml``) are kept out of everything tuned here (input
size, tiling, confidence, training recipe): ``--part dev`` is what settings are chosen on,
``--part holdout`` is read once, at the end, and reported as the untouched figure.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import yaml

from models.dataset import DatasetError, YoloDataset
from models.metrics import FloatArray, ImageBoxes, _match_image, box_iou, evaluate
from traffic_monitor.shared_data import REPO_ROOT

if TYPE_CHECKING:  # the training side (models/fold_train.py) runs without the edge runtime
    from models.evaluate import EvalRun

logger = logging.getLogger(__name__)

SPLITS_DIR = REPO_ROOT / "models" / "splits"
SCENE_TYPES = ("overpass", "high_cctv", "street_level")
"""Where the camera stands: above the carriageway, high beside it, or at road level."""
Part = Literal["dev", "holdout", "all"]
MOTORBIKE_BOXES = ("with_rider", "bike")
"""How a site's labels box a ridden motorbike: bike and rider together, or the bike alone."""
SMALL_AREA = 32.0**2
"""Ground-truth boxes below this area (pixels², COCO's "small") count as small objects."""
SITE_MEAN_MIN_GT = 5
"""Sites with fewer boxes of a class than this are left out of its per-site mean (noise)."""
_PHOTO_COPY = re.compile(r"\.rf\.[0-9a-f]+$")
"""Roboflow's suffix of an augmented copy (``name_jpg.rf.<hash>.jpg``): copies share a photo."""


@dataclass(frozen=True)
class Site:
    """One camera of a labelled set.

    Attributes:
        name: Site name (``sites.yaml``).
        kind: Scene type, one of :data:`SCENE_TYPES`.
        holdout: Kept out of tuning, reported once at the end.
        rider_in_box: The site's labels box a motorbike together with its rider (most
            sites); False where they box the bike alone (``motorbike_box: bike``).
    """

    name: str
    kind: str
    holdout: bool = False
    rider_in_box: bool = True


@dataclass(frozen=True)
class SiteTable:
    """The site of every image of a set.

    Attributes:
        sites: Sites by name.
        site_of: Site name of every image file name.
    """

    sites: Mapping[str, Site]
    site_of: Mapping[str, str]
    aspect: float | None = None
    """Width / height of the camera frames the images were stretched from (``frame_aspect``)."""

    def images(self, part: Part = "all") -> list[str]:
        """Image names of a part: ``dev`` (not held out), ``holdout`` or ``all``."""
        return sorted(
            name
            for name, site in self.site_of.items()
            if part == "all" or self.sites[site].holdout == (part == "holdout")
        )

    def kind_of(self, image: str) -> str:
        """Scene type of an image."""
        return self.sites[self.site_of[image]].kind

    def rider_in_box(self, image: str) -> bool:
        """Whether the labels of an image box a motorbike with its rider.

        An image of no site (a set without a site table) keeps the set's usual boxes.
        """
        site = self.site_of.get(image)
        return site is None or self.sites[site].rider_in_box


def load_sites(preset: str, splits_dir: Path = SPLITS_DIR) -> SiteTable:
    """Read ``<preset>/sites.yaml`` against ``<preset>/scenes.txt``.

    Raises:
        DatasetError: A scene is listed twice or not at all, a type is unknown, or a
            held-out site does not exist.
    """
    folder = splits_dir / preset
    try:
        raw = yaml.safe_load((folder / "sites.yaml").read_text()) or {}
        scene_lines = (folder / "scenes.txt").read_text().split("\n")
    except FileNotFoundError as exc:
        raise DatasetError(f"{folder}: {Path(str(exc.filename)).name} is missing") from exc
    holdout = set(raw.get("holdout") or [])
    sites: dict[str, Site] = {}
    site_of_scene: dict[int, str] = {}
    for name, entry in (raw.get("sites") or {}).items():
        if entry.get("type") not in SCENE_TYPES:
            raise DatasetError(f"{folder}/sites.yaml: site {name} type {entry.get('type')!r}")
        box = entry.get("motorbike_box", "with_rider")
        if box not in MOTORBIKE_BOXES:
            raise DatasetError(f"{folder}/sites.yaml: site {name} motorbike_box {box!r}")
        sites[name] = Site(str(name), str(entry["type"]), name in holdout, box == "with_rider")
        for scene in entry.get("scenes") or []:
            if scene in site_of_scene:
                raise DatasetError(f"{folder}/sites.yaml: scene {scene} listed twice")
            site_of_scene[int(scene)] = str(name)
    if holdout - set(sites):
        raise DatasetError(f"{folder}/sites.yaml: unknown held-out sites {holdout - set(sites)}")
    site_of: dict[str, str] = {}
    for line in scene_lines:
        if line.strip():
            image, scene = line.split()
            if int(scene) not in site_of_scene:
                raise DatasetError(f"{folder}/sites.yaml: scene {scene} ({image}) has no site")
            site_of[image] = site_of_scene[int(scene)]
    aspect = raw.get("frame_aspect")
    return SiteTable(sites, site_of, aspect[0] / aspect[1] if aspect else None)


def photo_sites(root: Path, kind: str = "street_level") -> SiteTable:
    """Sites of a set of web photos: one per photo, its augmented copies together.

    Roboflow exports name the copies of one photo ``<photo>_jpg.rf.<hash>.jpg``; a split
    that put copies of one photo on both sides would score the model on images it trained on.
    """
    names = sorted(p.name for p in (root / "images").iterdir() if p.is_file())
    if not names:
        raise DatasetError(f"{root}/images: no images")
    site_of = {name: _photo(name) for name in names}
    sites = {site: Site(site, kind) for site in set(site_of.values())}
    return SiteTable(sites, site_of)


def _photo(image_name: str) -> str:
    stem = _PHOTO_COPY.sub("", Path(image_name).stem)
    return re.sub(r"^(train|valid|test)_", "", stem)


def site_folds(table: SiteTable, folds: int, part: Part = "dev") -> list[list[str]]:
    """Sites of ``part`` dealt into ``folds`` groups of about equal image counts.

    Within each scene type, sites are dealt largest first to the fold with fewest images of
    that type, so every fold holds out some of each type (and no site is split).
    """
    counts: dict[str, int] = defaultdict(int)
    for image in table.images(part):
        counts[table.site_of[image]] += 1
    result: list[list[str]] = [[] for _ in range(folds)]
    for kind in SCENE_TYPES:
        load = [0] * folds
        ranked = sorted(
            (s for s in counts if table.sites[s].kind == kind), key=lambda s: (-counts[s], s)
        )
        for site in ranked:
            target = min(range(folds), key=lambda i: (load[i], sum(map(len, result[i]))))
            result[target].append(site)
            load[target] += counts[site]
    return result


@dataclass
class SliceFigures:
    """AP figures of one slice of the images (all, a scene type, a site)."""

    images: int
    map50: float
    classes: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    false_positives: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per class, the confident predictions that matched no label, by kind."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        figures = {"images": self.images, "map50": round(self.map50, 4), "classes": self.classes}
        if self.false_positives:
            figures[f"false_positives_at_{OPERATING_SCORE}"] = self.false_positives
        return figures


def slice_figures(
    images: Sequence[ImageBoxes], class_names: Sequence[str], small: bool = True
) -> SliceFigures:
    """mAP50 and per-class AP50 (and small-object AP50 and false positives by kind)."""
    result = evaluate(images, class_names)
    small_ap = small_ap50(images, class_names) if small else {}
    classes: dict[str, dict[str, float | int | None]] = {}
    wrong: dict[str, dict[str, int]] = {}
    for c in result.classes:
        if c.ap50 is None:
            continue
        if small:
            wrong[c.name] = false_positives(images, class_names.index(c.name))
        recall, precision = operating_point(images, class_names.index(c.name))
        classes[c.name] = {
            "ap50": round(c.ap50, 4),
            f"recall_at_{OPERATING_SCORE}": round(recall, 4),
            f"precision_at_{OPERATING_SCORE}": round(precision, 4),
            "ap50_95": round(c.ap50_95 or 0.0, 4),
            "recall50": round(c.recall50 or 0.0, 4),
            "ground_truth": c.ground_truth,
            "small_ground_truth": _small_count(images, class_names.index(c.name)),
            "small_ap50": small_ap.get(c.name),
        }
    return SliceFigures(len(images), result.map50, classes, wrong)


OPERATING_SCORE = 0.25
"""Score at which the recall and precision of a slice are read (about what counting runs at)."""


def operating_point(
    images: Sequence[ImageBoxes], class_id: int, score: float = OPERATING_SCORE
) -> tuple[float, float]:
    """Recall and precision at IoU 0.5 of predictions scored at least ``score``.

    AP summarises every threshold; a counting line sees only the boxes above the detector's
    confidence, so this is the figure closer to what counting gets.
    """
    hits = predicted = truth = 0
    for image in images:
        gt = image.gt_xyxy[image.gt_class == class_id]
        keep = (image.pred_class == class_id) & (image.pred_score >= score)
        pred = image.pred_xyxy[keep][np.argsort(-image.pred_score[keep], kind="stable")]
        truth, predicted = truth + len(gt), predicted + len(pred)
        if len(gt) and len(pred):
            hits += int(_match_image(gt, pred, (0.5,))[0].sum())
    return hits / max(truth, 1), hits / max(predicted, 1)


FALSE_POSITIVE_KINDS = ("unlabelled", "box", "duplicate", "other_class")
"""Why a confident prediction missed: no label of any class under it (a road user the labels
miss, or a phantom), a label of its class it overlaps too little (IoU 0.1-0.5: a box
convention or a poor box), a label of its class already matched (a second box on one road
user), or a label of another class only."""
KIND_IOU = 0.1
"""Overlap below which a prediction is not about a label at all."""


@dataclass(frozen=True)
class Miss:
    """A confident prediction that matched no label (see :func:`confident_misses`)."""

    image: str
    xyxy: tuple[float, float, float, float]
    score: float
    kind: str


def confident_misses(
    images: Mapping[str, ImageBoxes], class_id: int, score: float = OPERATING_SCORE
) -> list[Miss]:
    """Predictions of a class scored at least ``score`` that match no label, with their kind.

    Matching as :func:`operating_point` (IoU 0.5, highest score first); each miss is given
    the first of :data:`FALSE_POSITIVE_KINDS` that fits. ``models sheet`` draws them.
    """
    misses: list[Miss] = []
    for name, image in images.items():
        mine = image.gt_class == class_id
        keep = (image.pred_class == class_id) & (image.pred_score >= score)
        order = np.argsort(-image.pred_score[keep], kind="stable")
        pred, scores = image.pred_xyxy[keep][order], image.pred_score[keep][order]
        if not len(pred):
            continue
        hit = _match_image(image.gt_xyxy[mine], pred, (0.5,))[0]
        taken = _taken(image.gt_xyxy[mine], pred[hit])
        overlap = box_iou(pred[~hit], image.gt_xyxy) if len(image.gt_xyxy) else None
        for row, (box, value) in enumerate(zip(pred[~hit], scores[~hit], strict=True)):
            xyxy = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
            misses.append(Miss(name, xyxy, float(value), _kind(overlap, row, mine, taken)))
    return misses


def false_positives(
    images: Sequence[ImageBoxes], class_id: int, score: float = OPERATING_SCORE
) -> dict[str, int]:
    """How many confident predictions of a class missed, by kind (:func:`confident_misses`).

    Contact sheets of the ``unlabelled`` motorbikes of the road set showed real motorbikes
    almost only (docs/models.md).
    """
    kinds = dict.fromkeys(FALSE_POSITIVE_KINDS, 0)
    by_name = {str(index): image for index, image in enumerate(images)}
    for miss in confident_misses(by_name, class_id, score):
        kinds[miss.kind] += 1
    return kinds


def _taken(gt: FloatArray, matched: FloatArray) -> npt.NDArray[np.bool_]:
    """Labels matched by the predictions that hit (each hit took its best unmatched label)."""
    taken = np.zeros(len(gt), dtype=bool)
    for box in matched:
        iou = np.where(taken, -1.0, box_iou(box[None], gt)[0])
        taken[int(np.argmax(iou))] = True
    return taken


def _kind(
    overlap: FloatArray | None,
    row: int,
    mine: npt.NDArray[np.bool_],
    taken: npt.NDArray[np.bool_],
) -> str:
    if overlap is None or overlap[row].max() < KIND_IOU:
        return "unlabelled"
    own = overlap[row][mine]
    if len(own) and own.max() >= KIND_IOU:
        return "duplicate" if taken[int(np.argmax(own))] else "box"
    return "other_class"


def _small_count(images: Sequence[ImageBoxes], class_id: int) -> int:
    total = 0
    for image in images:
        boxes = image.gt_xyxy[image.gt_class == class_id]
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        total += int((area < SMALL_AREA).sum())
    return total


def small_ap50(images: Sequence[ImageBoxes], class_names: Sequence[str]) -> dict[str, float]:
    """AP50 on small ground truth (area < 32², COCO's "small"), per class, by faster-coco-eval.

    COCOeval's area ranges ignore larger ground truth and the unmatched predictions of
    other sizes, which a plain filter cannot do; classes without small ground truth are left
    out. Empty when faster-coco-eval is not installed.
    """
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError:
        return {}
    from models.evaluate import _coco_dicts

    gt, dt = _coco_dicts(images, class_names)
    if not dt or not gt["annotations"]:
        return {}
    coco_gt = COCO()
    coco_gt.dataset = gt
    coco_gt.createIndex()
    evaluator = COCOeval_faster(coco_gt, coco_gt.loadRes(dt), "bbox", print_function=logger.debug)
    evaluator.evaluate()
    evaluator.accumulate()
    precision = np.asarray(evaluator.eval["precision"])  # [T, R, K, A, M]
    result = {}
    for k, name in enumerate(class_names):
        curve = precision[0, :, k, 1, -1]  # IoU 0.5, every recall point, small, 100 dets
        if (curve > -1).any() and _small_count(images, k):
            result[name] = round(float(np.mean(np.clip(curve, 0, None))), 4)
    return result


def site_report(
    images: Mapping[str, ImageBoxes],
    table: SiteTable,
    class_names: Sequence[str],
    part: Part = "dev",
) -> dict[str, Any]:
    """Figures pooled over ``part``, per scene type and per site.

    Args:
        images: Ground truth and predictions by image name (each scored by a model that
            did not see its site).
        table: The sites.
        class_names: The set's class names.
        part: Which images: ``dev``, ``holdout`` or ``all``.
    """
    names = [name for name in table.images(part) if name in images]
    by_kind: dict[str, list[ImageBoxes]] = defaultdict(list)
    by_site: dict[str, list[ImageBoxes]] = defaultdict(list)
    for name in names:
        by_kind[table.kind_of(name)].append(images[name])
        by_site[table.site_of[name]].append(images[name])
    pooled = [images[name] for name in names]
    sites = {
        s: {"type": table.sites[s].kind, **slice_figures(v, class_names, False).to_dict()}
        for s, v in sorted(by_site.items())
    }
    return {
        "part": part,
        "pooled": slice_figures(pooled, class_names).to_dict(),
        "site_mean": site_mean(sites),
        "types": {k: slice_figures(v, class_names).to_dict() for k, v in sorted(by_kind.items())},
        "sites": sites,
    }


def site_mean(sites: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Per class, the mean AP50 over the sites with at least :data:`SITE_MEAN_MIN_GT` boxes.

    The pooled figure weighs cameras by their boxes (one camera of the road set holds four
    motorbikes in five); this one weighs every camera alike, as a new camera would be.
    """
    per_class: dict[str, list[float]] = defaultdict(list)
    for figures in sites.values():
        for name, entry in figures["classes"].items():
            if entry["ground_truth"] >= SITE_MEAN_MIN_GT and entry["ap50"] is not None:
                per_class[name].append(float(entry["ap50"]))
    return {
        name: {"ap50": round(float(np.mean(values)), 4), "sites": len(values)}
        for name, values in sorted(per_class.items())
    }


def by_name(run: EvalRun) -> dict[str, ImageBoxes]:
    """An evaluation's per-image boxes keyed by image file name."""
    return {path.name: boxes for path, boxes in zip(run.image_paths, run.images, strict=True)}


def save_predictions(images: Mapping[str, ImageBoxes], path: Path) -> None:
    """Write per-image ground truth and predictions (JSON) for re-slicing without re-running."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = {
        name: {
            "gt_xyxy": box.gt_xyxy.round(2).tolist(),
            "gt_class": box.gt_class.tolist(),
            "pred_xyxy": box.pred_xyxy.round(2).tolist(),
            "pred_score": box.pred_score.round(5).tolist(),
            "pred_class": box.pred_class.tolist(),
        }
        for name, box in images.items()
    }
    path.write_text(json.dumps(rows))


def load_predictions(path: Path) -> dict[str, ImageBoxes]:
    """Read what :func:`save_predictions` wrote."""
    rows = json.loads(path.read_text())
    return {name: ImageBoxes(**row) for name, row in rows.items()}


def dataset_part(root: Path, table: SiteTable, part: Part, work: Path) -> YoloDataset:
    """The set restricted to one part (a file list written into ``work``)."""
    listing = work / f"{root.name}_{part}.txt"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("\n".join(table.images(part)) + "\n")
    return YoloDataset(root, files=listing)
