from __future__ import annotations

import numpy as np
import pytest

from edge.detections import NO_TRACK, Detections


def make(n: int = 3) -> Detections:
    return Detections(
        xyxy=np.arange(n * 4, dtype=np.float32).reshape(n, 4) * [1, 1, 2, 2],
        confidence=np.linspace(0.3, 0.9, n),
        class_id=np.arange(n),
        data={"name": np.array([f"o{i}" for i in range(n)])},
    )


def test_boolean_mask_indexes_every_field_alike() -> None:
    detections = make(4)
    kept = detections[detections.confidence > 0.5]
    assert len(kept) == 2
    assert kept.class_id.tolist() == [2, 3]
    assert kept.data["name"].tolist() == ["o2", "o3"]
    assert kept.tracker_id.tolist() == [NO_TRACK, NO_TRACK]
    np.testing.assert_array_equal(kept.xyxy, detections.xyxy[2:])


def test_integer_index_returns_one_row_object() -> None:
    assert len(make(3)[1]) == 1
    assert make(3)[1].class_id.tolist() == [1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": np.ones(2)}, "confidence has 2 rows, expected 3"),
        ({"class_id": np.ones(4)}, "class_id has 4 rows, expected 3"),
        ({"tracker_id": np.ones(1)}, "tracker_id has 1 rows, expected 3"),
        ({"data": {"x": np.ones(2)}}, "data['x'] has 2 rows, expected 3"),
    ],
)
def test_shapes_are_validated(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "xyxy": np.zeros((3, 4)),
        "confidence": np.ones(3),
        "class_id": np.zeros(3),
    }
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Detections(**{**base, **kwargs})  # type: ignore[arg-type]


def test_mask_of_wrong_length_is_refused() -> None:
    with pytest.raises(IndexError, match="boolean mask has 2 rows"):
        make(3)[np.array([True, False])]


def test_empty_and_merge() -> None:
    empty = Detections.empty()
    assert len(empty) == 0
    merged = Detections.merge([make(2), make(3)])
    assert len(merged) == 5
    assert merged.data["name"].tolist() == ["o0", "o1", "o0", "o1", "o2"]


def test_shifted_moves_boxes_only() -> None:
    detections = make(2)
    moved = detections.shifted(10, 20)
    np.testing.assert_allclose(moved.xyxy - detections.xyxy, [[10, 20, 10, 20]] * 2)
    np.testing.assert_array_equal(moved.confidence, detections.confidence)


def test_anchor_points() -> None:
    detections = Detections(xyxy=[[0, 0, 10, 20]], confidence=[1.0], class_id=[0])
    assert detections.bottom_center.tolist() == [[5.0, 20.0]]
    assert detections.center.tolist() == [[5.0, 10.0]]
    assert detections.area.tolist() == [200.0]
