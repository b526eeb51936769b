"""Training labels of ``models/fold_train.py``: one motorbike box convention for every site."""

from __future__ import annotations

import numpy as np

from models.fold_train import riders_folded_in


def test_riders_are_folded_into_the_bikes_a_site_labels_alone() -> None:
    bike = (1, np.array([100.0, 150.0, 140.0, 220.0]))  # saddle down, as dense_intersection
    car = (0, np.array([300.0, 100.0, 400.0, 180.0]))
    rider = [98.0, 90.0, 138.0, 200.0]  # feet on the bike, head above its label
    walker = [200.0, 90.0, 230.0, 200.0]  # beside it
    widened = riders_folded_in([bike, car], np.array([rider, walker]))
    assert widened[0][0] == 1
    assert widened[0][1].tolist() == [98.0, 90.0, 140.0, 220.0]
    assert widened[1][1].tolist() == car[1].tolist()
    assert bike[1].tolist() == [100.0, 150.0, 140.0, 220.0]  # the caller's labels untouched


def test_a_rider_joins_the_bike_it_overlaps_most() -> None:
    left = (1, np.array([0.0, 150.0, 50.0, 220.0]))
    right = (1, np.array([40.0, 150.0, 100.0, 220.0]))
    rider = [42.0, 90.0, 80.0, 200.0]
    widened = riders_folded_in([left, right], np.array([rider]))
    assert widened[0][1].tolist() == left[1].tolist()
    assert widened[1][1].tolist() == [40.0, 90.0, 100.0, 220.0]
    assert riders_folded_in([left], np.empty((0, 4)))[0][1].tolist() == left[1].tolist()
