"""Regression gate: the committed Vietnamese models keep their recorded accuracy.

Re-evaluates each bundled model on its frozen gate subset of the scene-disjoint validation
split and fails when a class's AP50 (or the mAP50) falls more than 2 points below
``models/weights/metrics.json``. Re-record after an intended change with
``python -m models.gate --record``.
"""

from __future__ import annotations

import json

import pytest

from models.gate import METRICS_FILE, evaluate_preset, gate_list, model_path, regressions, summary
from models.train import PRESETS
from tests.conftest import require_shared


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_committed_model_keeps_its_recorded_accuracy(preset: str) -> None:
    require_shared(*PRESETS[preset].dataset.split("/"), "images")
    recorded = json.loads(METRICS_FILE.read_text())[preset]["gate"]
    assert model_path(preset).is_file(), f"{model_path(preset)} is not committed"
    measured = summary(evaluate_preset(preset, gate_list(preset)))
    assert measured["images"] == recorded["images"]
    assert regressions(recorded, measured) == []


def test_gate_detects_a_drop() -> None:
    recorded = {"map50": 0.8, "classes": {"car": {"ap50": 0.9}, "bus": {"ap50": 0.5}}}
    same = {"map50": 0.79, "classes": {"car": {"ap50": 0.885}, "bus": {"ap50": 0.49}}}
    worse = {"map50": 0.7, "classes": {"car": {"ap50": 0.85}, "bus": {"ap50": 0.5}}}
    assert regressions(recorded, same) == []
    assert len(regressions(recorded, worse)) == 2
