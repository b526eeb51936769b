"""``models loso``: run a model (or one model per fold) over the sites and report them.

See :mod:`models.crossval` for what the figures mean.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.detector.tiling import TilingConfig
from models.crossval import (
    SPLITS_DIR,
    Part,
    SiteTable,
    by_name,
    load_sites,
    save_predictions,
    site_folds,
    site_report,
)
from models.dataset import YoloDataset
from models.evaluate import RiderMerge, evaluate_model
from models.gate import model_path
from models.metrics import ImageBoxes
from models.train import PRESETS
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import shared_path

logger = logging.getLogger(__name__)

EVAL_CONFIDENCE, EVAL_IOU = 0.001, 0.6
"""Score floor and NMS IoU of every figure (COCO-style, like ``models eval``)."""


@dataclass(frozen=True)
class LosoOptions:
    """One leave-one-site-out run.

    Attributes:
        preset: The labelled set, by training preset (``vn-vehicles``, ``vn-helmet``).
        models: One model scoring every site, or one per fold (:func:`site_folds`).
        imgsz: Input long side for a dynamic-size model.
        merge_riders: Fold COCO rider boxes into their motorbike on the sites whose labels
            box both (``SiteTable.rider_in_box``; the others are scored on the bike alone).
        tiles: Tile grid ``(columns, rows)`` over the whole image, beside the full image.
        tile_imgsz: Input long side of a tile.
        part: ``dev`` (tuned on), ``holdout`` (untouched) or ``all``.
        sites: Only these sites of the part (one model only).
        as_stored: Detect on the images as stored, not restored to the set's
            ``frame_aspect`` (the camera's shape).
    """

    preset: str
    models: list[Path]
    imgsz: int | None = None
    merge_riders: bool = False
    tiles: tuple[int, int] | None = None
    tile_imgsz: int | None = None
    part: Part = "dev"
    sites: list[str] | None = None
    as_stored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def tiling(self) -> TilingConfig | None:
        """The detector's tiling for these options."""
        if self.tiles is None:
            return None
        return TilingConfig(grid=self.tiles, imgsz=self.tile_imgsz)


def run_loso(options: LosoOptions, predictions: Path | None = None) -> dict[str, Any]:
    """Score the models on the sites they did not see and report by type and site.

    Raises:
        UserFacingError: Unknown preset, a missing model, or folds asked on the held-out
            part (fold models are trained on the development part only).
    """
    if options.preset not in PRESETS:
        raise UserFacingError(f"unknown preset {options.preset}; known: {', '.join(PRESETS)}")
    if len(options.models) > 1 and options.part != "dev":
        raise UserFacingError("fold models score the dev part; score holdout with one model")
    for model in options.models:
        if not model.is_file():
            raise UserFacingError(f"model {model} does not exist")
    table = load_sites(options.preset)
    root = shared_path(*PRESETS[options.preset].dataset.split("/"))
    started = time.perf_counter()
    images, names = _predict(options, table, root)
    report = site_report(images, table, names, options.part)
    seen = seen_sites(options, table)
    for site in seen & set(report["sites"]):
        report["sites"][site]["seen_in_training"] = True
    report["seen_sites"] = sorted(seen)
    report["settings"] = _settings(options, table)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["machine"] = machine()
    if predictions is not None:
        save_predictions(images, predictions)
    return report


def seen_sites(options: LosoOptions, table: SiteTable) -> set[str]:
    """Sites the scored model trained on: those of the committed model's training list.

    The committed ``models/weights/<preset>.onnx`` was trained on the images of
    ``models/splits/<preset>/train.txt``; scored on its own set, its figures on those sites
    are seen-camera figures and are marked so. Other models are taken as unseen (COCO) or
    come fold by fold.
    """
    committed = model_path(options.preset).resolve()
    listing = SPLITS_DIR / options.preset / "train.txt"
    if not listing.is_file() or all(m.resolve() != committed for m in options.models):
        return set()
    trained = set(listing.read_text().split())
    return {table.site_of[name] for name in trained if name in table.site_of}


def _predict(
    options: LosoOptions, table: SiteTable, root: Path
) -> tuple[dict[str, ImageBoxes], tuple[str, ...]]:
    """Each image scored by the model of its fold (the only model when there is one)."""
    if len(options.models) == 1:
        groups = [sorted({table.site_of[n] for n in table.images(options.part)})]
        if options.sites:
            unknown = set(options.sites) - set(table.sites)
            if unknown:
                raise UserFacingError(
                    f"unknown sites {sorted(unknown)}; known: {sorted(table.sites)}"
                )
            groups = [[s for s in groups[0] if s in options.sites]]
    else:
        groups = site_folds(table, len(options.models), options.part)
    images: dict[str, ImageBoxes] = {}
    names: tuple[str, ...] = ()
    with tempfile.TemporaryDirectory() as work:
        for index, (model, sites) in enumerate(zip(options.models, groups, strict=True)):
            wanted = [n for n in table.images(options.part) if table.site_of[n] in set(sites)]
            listing = Path(work) / f"fold{index}.txt"
            listing.write_text("\n".join(wanted) + "\n")
            dataset = YoloDataset(root, files=listing)
            run = evaluate_model(
                model,
                dataset,
                merge=RiderMerge() if options.merge_riders else None,
                merge_where=table.rider_in_box,
                confidence=EVAL_CONFIDENCE,
                iou=EVAL_IOU,
                imgsz=options.imgsz,
                tiles=options.tiling(),
                aspect=None if options.as_stored else table.aspect,
            )
            logger.info("%s: %d images of %d sites", model.name, len(wanted), len(sites))
            images.update(by_name(run))
            names = dataset.names
    return images, names


def _settings(options: LosoOptions, table: SiteTable) -> dict[str, Any]:
    return {
        "preset": options.preset,
        "models": [str(m) for m in options.models],
        "imgsz": options.imgsz,
        "merge_riders": options.merge_riders,
        "bike_only_sites": sorted(n for n, s in table.sites.items() if not s.rider_in_box),
        "tiles": list(options.tiles) if options.tiles else None,
        "tile_imgsz": options.tile_imgsz,
        "sites": options.sites,
        "as_stored": options.as_stored,
        "confidence": EVAL_CONFIDENCE,
        "iou": EVAL_IOU,
        **options.extra,
    }


def machine() -> dict[str, Any]:
    """The CPU and its inference-relevant flags (record with every timing)."""
    flags: list[str] = []
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                wanted = ("avx2", "fma", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16")
                present = set(line.split(":", 1)[1].split())
                flags = [f for f in (*wanted, "amx_bf16") if f in present]
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass

    return {"cpu": model, "cpu_flags": flags, "cores": os.cpu_count()}
