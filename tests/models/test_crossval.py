"""Leave-one-site-out evaluation: the site tables, the folds and the report's slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.crossval import (
    SCENE_TYPES,
    load_sites,
    operating_point,
    photo_sites,
    site_folds,
    site_report,
)
from models.dataset import DatasetError
from models.metrics import ImageBoxes
from models.train import PRESETS
from tests.conftest import require_shared


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_scene_of_the_committed_split_has_one_site(preset: str) -> None:
    table = load_sites(preset)
    scenes = (Path("models/splits") / preset / "scenes.txt").read_text().split("\n")
    assert len(table.site_of) == len([line for line in scenes if line.strip()])
    assert {site.kind for site in table.sites.values()} <= set(SCENE_TYPES)
    assert set(table.images("dev")) | set(table.images("holdout")) == set(table.images())
    assert not set(table.images("dev")) & set(table.images("holdout"))


def test_road_set_keeps_untouched_cameras_of_every_type() -> None:
    table = load_sites("vn-vehicles")
    held = {table.kind_of(name) for name in table.images("holdout")}
    assert held == set(SCENE_TYPES)
    assert table.aspect == pytest.approx(16 / 9)


def test_a_scene_without_a_site_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "scenes.txt").write_text("a.jpg 0\nb.jpg 1\n")
    (folder / "sites.yaml").write_text("sites:\n  one: {type: overpass, scenes: [0]}\n")
    with pytest.raises(DatasetError, match="scene 1"):
        load_sites("p", tmp_path)
    (folder / "sites.yaml").write_text("sites:\n  one: {type: rooftop, scenes: [0, 1]}\n")
    with pytest.raises(DatasetError, match="rooftop"):
        load_sites("p", tmp_path)


def test_folds_never_split_a_site_and_spread_the_types() -> None:
    table = load_sites("vn-vehicles")
    folds = site_folds(table, 3)
    dealt = [site for fold in folds for site in fold]
    assert sorted(dealt) == sorted({table.site_of[n] for n in table.images("dev")})
    for fold in folds:
        assert {table.sites[s].kind for s in fold} >= {"high_cctv"}


def test_copies_of_one_web_photo_are_one_site() -> None:
    table = photo_sites(require_shared("data", "helmet_web"))
    assert 700 <= len(table.sites) <= 800  # ~747 photos in 1,793 augmented copies
    copies = [n for n in table.site_of if n.startswith("train_images-9-_jpg.rf.")]
    assert len(copies) > 1 and len({table.site_of[n] for n in copies}) == 1


def test_report_slices_by_type_and_site() -> None:
    table = load_sites("vn-vehicles")
    names = table.images("dev")
    box = np.array([[10.0, 10.0, 50.0, 50.0]])
    images = {
        name: ImageBoxes(box, np.array([0]), box if i % 2 == 0 else np.empty((0, 4)),
                         np.array([0.9]) if i % 2 == 0 else np.empty(0),
                         np.array([0]) if i % 2 == 0 else np.empty(0, np.int64))
        for i, name in enumerate(names)
    }  # fmt: skip
    report = site_report(images, table, ("car", "motorcycle"), "dev")
    assert report["pooled"]["images"] == len(names)
    assert 0.4 < report["pooled"]["classes"]["car"]["ap50"] < 0.6
    assert sum(t["images"] for t in report["types"].values()) == len(names)
    assert set(report["sites"]) == {table.site_of[n] for n in names}


def test_operating_point_counts_only_confident_boxes() -> None:
    gt = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    pred = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [50.0, 50.0, 60.0, 60.0]])
    image = ImageBoxes(gt, np.array([1, 1]), pred, np.array([0.9, 0.1, 0.8]), np.array([1, 1, 1]))
    recall, precision = operating_point([image], 1, 0.25)
    assert (recall, precision) == (0.5, 0.5)


def test_sites_say_how_their_labels_box_a_ridden_motorbike(tmp_path: Path) -> None:
    table = load_sites("vn-vehicles")
    bike_only = {name for name, site in table.sites.items() if not site.rider_in_box}
    assert bike_only == {"dense_intersection"}  # looked at by eye: saddle down, no rider
    image = next(n for n in table.images() if table.site_of[n] == "dense_intersection")
    assert not table.rider_in_box(image)
    assert table.rider_in_box("not-a-listed-image.jpg")
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "scenes.txt").write_text("a.jpg 0\n")
    (folder / "sites.yaml").write_text(
        "sites:\n  one: {type: overpass, scenes: [0], motorbike_box: rider}\n"
    )
    with pytest.raises(DatasetError, match="motorbike_box 'rider'"):
        load_sites("p", tmp_path)


def test_riders_are_merged_only_where_the_labels_box_them(tmp_path: Path) -> None:
    """The detector's boxes are scored in each site's own convention (real model, images)."""
    from models.dataset import YoloDataset
    from models.evaluate import RiderMerge, evaluate_model

    root = require_shared("data", "detection")
    table = load_sites("vn-vehicles")
    listing = tmp_path / "two.txt"
    listing.write_text("611.jpg\n1001.jpg\n")  # both dense_intersection: riders on bikes
    assert not table.rider_in_box("611.jpg")
    dataset = YoloDataset(root, files=listing)
    model = Path("models/weights/coco-yolov8n.onnx")

    def boxes(**merge: object) -> list[np.ndarray]:
        run = evaluate_model(model, dataset, imgsz=640, aspect=table.aspect, **merge)  # type: ignore[arg-type]
        return [image.pred_xyxy for image in run.images]

    bare, merged = boxes(), boxes(merge=RiderMerge())
    assert not all(np.array_equal(a, b) for a, b in zip(bare, merged, strict=True))  # riders in
    by_site = boxes(merge=RiderMerge(), merge_where=table.rider_in_box)
    assert all(np.array_equal(a, b) for a, b in zip(bare, by_site, strict=True))
    everywhere = boxes(merge=RiderMerge(), merge_where=lambda name: True)
    assert all(np.array_equal(a, b) for a, b in zip(merged, everywhere, strict=True))


def test_confident_misses_are_sorted_by_why_they_missed() -> None:
    from models.crossval import false_positives

    bike, car = [0.0, 0.0, 10.0, 20.0], [50.0, 0.0, 90.0, 30.0]
    image = ImageBoxes(
        gt_xyxy=[bike, car],
        gt_class=[1, 0],
        pred_xyxy=[
            bike,  # a hit
            [0.0, 0.0, 10.0, 19.0],  # a second box on the same bike
            [200.0, 0.0, 210.0, 20.0],  # nothing labelled there
            [52.0, 0.0, 88.0, 30.0],  # a car called a motorbike
            [0.0, 0.0, 10.0, 20.0],  # below the operating score
        ],
        pred_score=[0.9, 0.8, 0.7, 0.6, 0.1],
        pred_class=[1, 1, 1, 1, 1],
    )
    shifted = ImageBoxes(
        gt_xyxy=[bike],
        gt_class=[1],
        pred_xyxy=[[5.0, 0.0, 15.0, 20.0]],
        pred_score=[0.5],
        pred_class=[1],
    )  # IoU 1/3 with the label: a box that disagrees
    assert false_positives([image, shifted], 1) == {
        "unlabelled": 1,
        "box": 1,
        "duplicate": 1,
        "other_class": 1,
    }
    assert false_positives([image], 0) == dict.fromkeys(
        ("unlabelled", "box", "duplicate", "other_class"), 0
    )


def test_cameras_the_committed_model_trained_on_are_marked_seen() -> None:
    from models.cli import format_loso
    from models.gate import model_path
    from models.loso import LosoOptions, seen_sites

    table = load_sites("vn-helmet")
    committed = LosoOptions(preset="vn-helmet", models=[model_path("vn-helmet")])
    seen = seen_sites(committed, table)
    trained = (Path("models/splits/vn-helmet/train.txt")).read_text().split()
    assert seen == {table.site_of[n] for n in trained if n in table.site_of}
    assert seen  # every road camera of the helmet set is in its training list
    coco = LosoOptions(preset="vn-helmet", models=[Path("models/weights/coco-yolov8n.onnx")])
    assert seen_sites(coco, table) == set()
    figures = {"images": 3, "map50": 0.5, "classes": {"car": {"ap50": 0.5}}}
    report = {
        "pooled": figures,
        "types": {},
        "sites": {"a": {**figures, "seen_in_training": True}, "b": figures},
        "seen_sites": ["a"],
    }
    table_text = format_loso(report)
    assert "  a (seen)" in table_text and "  b (seen)" not in table_text
    assert "trained on images of that camera" in table_text
