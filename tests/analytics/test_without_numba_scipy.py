"""Tracking without numba and SciPy (an offline GPU server that cannot carry their wheels):
the plain-Python kernels and ``lap``'s assignment give the same tracks."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from edge.tracking.assignment import linear_sum_assignment

pytest.importorskip("lap", reason="lap (the models extra) is not installed")

TRACK_SCRIPT = """
import json, sys
import numpy as np
from edge.detections import Detections
from edge.tracking import ByteTracker, TrackerConfig
from tests.analytics.factories import NAMES
rng = np.random.default_rng(7)
tracker = ByteTracker(TrackerConfig(), NAMES)
starts = rng.uniform(0, 600, size=(12, 2))
speeds = rng.uniform(-6, 6, size=(12, 2))
ids = []
for frame in range(40):
    centres = starts + frame * speeds + rng.normal(0, 0.5, size=starts.shape)
    xyxy = np.concatenate([centres - 20, centres + 20], axis=1)
    keep = rng.uniform(size=12) > 0.15
    detections = Detections(
        xyxy=xyxy[keep], confidence=np.full(keep.sum(), 0.8), class_id=np.full(keep.sum(), 2)
    )
    ids.append(tracker.update(detections, frame / 10).detections.tracker_id.tolist())
loaded = {name: sys.modules.get(name) is not None for name in ("numba", "scipy")}
print(json.dumps({"ids": ids, **loaded}))
"""


def _tracks(block: bool) -> dict[str, Any]:
    prefix = "import sys; sys.modules['numba'] = None; sys.modules['scipy'] = None\n"
    code = (prefix if block else "") + TRACK_SCRIPT
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_tracks_are_the_same_without_numba_and_scipy() -> None:
    plain, compiled = _tracks(block=True), _tracks(block=False)
    assert not plain["numba"] and not plain["scipy"]
    assert plain["ids"] == compiled["ids"]
    assert len({i for frame in plain["ids"] for i in frame}) >= 10  # real tracks, not vacuous


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5), (0, 3)])
def test_lap_assignment_is_scipys_optimum(shape: tuple[int, int]) -> None:
    import lap

    cost = np.random.default_rng(3).uniform(size=shape)
    rows, columns = linear_sum_assignment(cost)
    if cost.size:
        _, x, _ = lap.lapjv(cost, extend_cost=True)
        lap_rows = np.flatnonzero(x >= 0)
        assert np.isclose(cost[rows, columns].sum(), cost[lap_rows, x[lap_rows]].sum())
    assert len(rows) == min(shape)


def test_lap_keeps_every_real_pair_beside_forbidden_ones(monkeypatch) -> None:
    """A frame where most pairs are gated off (seen in the tracker): when forbidden pairs
    cost 1e6, lap's own infinity, lapjv left track 0 unmatched beside its only box."""
    from scipy.optimize import linear_sum_assignment as scipy_assignment

    from edge.tracking import assignment

    cost = np.full((7, 10), assignment.FORBIDDEN)
    for row, column, value in [(0, 0, 0.0325), (2, 2, 0.0464), (4, 8, 0.0731), (5, 6, 0.0419)]:
        cost[row, column] = value
    cost[6, 7] = 0.0335
    expected = {
        (int(r), int(c)) for r, c in zip(*scipy_assignment(cost), strict=True) if cost[r, c] < 1
    }
    monkeypatch.setattr(assignment, "_scipy_assignment", None)
    rows, columns = assignment.linear_sum_assignment(cost * 100)  # costs above FORBIDDEN too
    got = {(int(r), int(c)) for r, c in zip(rows, columns, strict=True) if cost[r, c] < 1}
    assert got == expected == {(0, 0), (2, 2), (4, 8), (5, 6), (6, 7)}
