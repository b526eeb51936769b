"""``models sheet``: contact sheets of confident misses, drawn from real set images."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from models.crossval import save_predictions
from models.metrics import ImageBoxes
from models.sheet import CELL, SheetOptions, draw_sheet
from tests.conftest import require_shared
from traffic_monitor.errors import UserFacingError


def _predictions(tmp_path: Path) -> Path:
    bike = [100.0, 100.0, 140.0, 180.0]
    images = {
        "611.jpg": ImageBoxes(
            gt_xyxy=[bike],
            gt_class=[1],
            pred_xyxy=[bike, [300.0, 300.0, 340.0, 380.0], [101.0, 100.0, 140.0, 178.0]],
            pred_score=[0.9, 0.8, 0.5],
            pred_class=[1, 1, 1],
        ),
        "1001.jpg": ImageBoxes(
            gt_xyxy=[bike],
            gt_class=[1],
            pred_xyxy=[[400.0, 10.0, 430.0, 60.0], [500.0, 10.0, 530.0, 60.0]],
            pred_score=[0.7, 0.1],
            pred_class=[1, 1],
        ),
    }
    path = tmp_path / "predictions.json"
    save_predictions(images, path)
    return path


def test_the_sheet_draws_the_misses_of_one_kind(tmp_path: Path) -> None:
    require_shared("data", "detection", "images")
    predictions = _predictions(tmp_path)
    out = tmp_path / "sheet.png"
    total = draw_sheet(predictions, out, SheetOptions("motorcycle", columns=4))
    assert total == 2  # nothing labelled under either; the 0.1 box is below the score
    sheet = cv2.imread(str(out))
    assert sheet.shape == (CELL, 4 * CELL, 3)
    assert sheet[:, 2 * CELL :].max() == 0  # two cells drawn, two left black
    assert draw_sheet(predictions, out, SheetOptions("motorcycle", kind="duplicate")) == 1


def test_the_sheet_refuses_what_it_cannot_draw(tmp_path: Path) -> None:
    require_shared("data", "detection", "images")
    predictions = _predictions(tmp_path)
    with pytest.raises(UserFacingError, match="class 'moto'"):
        draw_sheet(predictions, tmp_path / "s.png", SheetOptions("moto"))
    with pytest.raises(UserFacingError, match="kind 'wrong'"):
        draw_sheet(predictions, tmp_path / "s.png", SheetOptions("motorcycle", kind="wrong"))
    with pytest.raises(UserFacingError, match="does not exist"):
        draw_sheet(tmp_path / "none.json", tmp_path / "s.png", SheetOptions("motorcycle"))
