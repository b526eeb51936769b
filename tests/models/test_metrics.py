"""COCO-style mAP on tiny hand-made sets whose answers are known, and the COCOeval cross-check."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detections import Detections
from models.dataset import DatasetError, YoloDataset
from models.evaluate import RiderMerge, class_mapping, coco_crosscheck, merge_riders
from models.metrics import ImageBoxes, box_iou, evaluate

NAMES = ("car", "motorcycle")
GT = np.array([[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 70]], dtype=float)
GT_CLASS = np.array([0, 0, 1])


def image(pred_xyxy, scores, classes, gt=GT, gt_class=GT_CLASS) -> ImageBoxes:
    return ImageBoxes(gt, gt_class, np.asarray(pred_xyxy, float), scores, classes)


def test_perfect_predictions_score_one():
    result = evaluate([image(GT, [0.9, 0.8, 0.7], GT_CLASS)], NAMES)
    assert result.map50 == pytest.approx(1.0)
    assert result.map50_95 == pytest.approx(1.0)
    assert [c.ground_truth for c in result.classes] == [2, 1]


def test_one_missed_box_of_two_gives_known_ap():
    # car: 1 of 2 found -> precision 1 up to recall 0.5: 51 of 101 recall points.
    result = evaluate([image(GT[[0, 2]], [0.9, 0.7], [0, 1])], NAMES)
    car, motorcycle = result.classes
    assert car.ap50 == pytest.approx(51 / 101)
    assert car.recall50 == pytest.approx(0.5)
    assert motorcycle.ap50 == pytest.approx(1.0)
    assert result.map50 == pytest.approx((51 / 101 + 1.0) / 2)


def test_false_positive_ranked_first_halves_precision():
    # a high-scored false car, then the two true cars: precision 1/2 then 2/3 (made monotone).
    preds = [[100, 100, 110, 110], GT[0], GT[1], GT[2]]
    result = evaluate([image(preds, [0.99, 0.9, 0.8, 0.7], [0, 0, 0, 1])], NAMES)
    assert result.classes[0].ap50 == pytest.approx(2 / 3)


def test_loose_box_counts_at_iou50_but_not_at_high_thresholds():
    loose = GT.copy()
    loose[0] = [0, 0, 10, 14]  # IoU 100/140 = 0.714: a hit at 0.50..0.70, a miss above
    result = evaluate([image(loose, [0.9, 0.8, 0.7], GT_CLASS)], NAMES)
    car = result.classes[0]
    assert car.ap50 == pytest.approx(1.0)
    # 0.50..0.70 (5 of 10): AP 1. 0.75..0.95: the top-scored box is now a false positive,
    # then a hit: precision 1/2 up to recall 1/2, nothing beyond -> AP 0.5 * 51/101.
    assert car.ap50_95 == pytest.approx((5 * 1.0 + 5 * 0.5 * 51 / 101) / 10)


def test_duplicate_detection_is_a_false_positive():
    preds = [GT[0], GT[0], GT[1], GT[2]]
    result = evaluate([image(preds, [0.9, 0.85, 0.8, 0.7], [0, 0, 0, 1])], NAMES)
    # TP, FP, TP: precision 1, 1/2, 2/3 -> monotone 1 up to r=0.5, 2/3 up to r=1.
    assert result.classes[0].ap50 == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)


def test_wrong_class_is_not_a_match_and_class_without_gt_is_left_out():
    result = evaluate([image(GT, [0.9, 0.8, 0.7], [1, 1, 1], gt_class=np.array([0, 0, 0]))], NAMES)
    assert result.classes[0].ap50 == 0.0
    assert result.classes[1].ap50 is None
    assert result.map50 == 0.0


def test_box_iou_known_value():
    assert box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10]]))[0, 0] == pytest.approx(
        50 / 150
    )


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="disagree"):
        ImageBoxes(GT, GT_CLASS, GT, [0.5], [0, 0, 1])


def random_images(rng: np.random.Generator, count: int) -> list[ImageBoxes]:
    images = []
    for _ in range(count):
        n = int(rng.integers(0, 8))
        xy = rng.uniform(0, 500, (n, 2))
        gt = np.hstack([xy, xy + rng.uniform(10, 120, (n, 2))])
        gt_class = rng.integers(0, 2, n)
        keep = rng.random(n) < 0.8
        pred = gt[keep] + rng.normal(0, 6, (int(keep.sum()), 4))
        pred_class = np.where(rng.random(len(pred)) < 0.9, gt_class[keep], 1 - gt_class[keep])
        extra = int(rng.integers(0, 4))
        exy = rng.uniform(0, 500, (extra, 2))
        pred = np.vstack([pred, np.hstack([exy, exy + 40])])
        pred_class = np.concatenate([pred_class, rng.integers(0, 2, extra)])
        scores = rng.uniform(0.01, 1.0, len(pred))
        images.append(ImageBoxes(gt, gt_class, pred, scores, pred_class))
    return images


def test_agrees_with_independent_cocoeval():
    pytest.importorskip("faster_coco_eval")
    images = random_images(np.random.default_rng(7), 60)
    ours = evaluate(images, NAMES)
    theirs = coco_crosscheck(images, NAMES)
    assert ours.map50 == pytest.approx(theirs["map50"], abs=0.005)
    assert ours.map50_95 == pytest.approx(theirs["map50_95"], abs=0.005)


def test_rider_is_merged_into_the_motorbike_it_sits_on():
    names = ("person", "motorcycle")
    detections = Detections(
        xyxy=np.array([[10, 0, 30, 40], [5, 25, 35, 60], [100, 0, 120, 50]], np.float32),
        confidence=np.array([0.9, 0.8, 0.7], np.float32),
        class_id=np.array([0, 1, 0]),
    )
    merged = merge_riders(detections, names, RiderMerge())
    assert merged.class_id.tolist() == [1, 0]  # the rider is gone, the pedestrian stays
    assert merged.xyxy[0].tolist() == [5, 0, 35, 60]


def test_class_mapping_by_name_and_override():
    mapping = class_mapping(("person", "car", "truck"), ("car", "lorry"), {"truck": "lorry"})
    assert mapping == {1: 0, 2: 1}
    with pytest.raises(Exception, match="the set has"):
        class_mapping(("car",), ("car",), {"bus": "car"})


def test_yolo_dataset_reads_labels_in_pixels(tmp_path: Path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.zeros((100, 200, 3), np.uint8))
    (tmp_path / "labels" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n")
    (tmp_path / "classes.txt").write_text("car\nmotorcycle\n")
    dataset = YoloDataset(tmp_path)
    ((_, labels),) = list(dataset)
    assert dataset.names == ("car", "motorcycle")
    assert labels.xyxy.tolist() == [[80.0, 30.0, 120.0, 70.0]]
    assert labels.class_id.tolist() == [1]
    (tmp_path / "labels" / "a.txt").write_text("7 0.5 0.5 0.2 0.4\n")
    with pytest.raises(DatasetError, match="class id"):
        list(dataset)
