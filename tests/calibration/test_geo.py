"""Latitude/longitude to local metres, checked against known distances."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationError, lat_lon_to_local
from calibration.geo import local_to_lat_lon

HOAN_KIEM = (21.0285, 105.8542)


def test_one_arc_minute_of_latitude_at_hanoi() -> None:
    # meridian arc of 1' at mid-latitude 21.037°N: M * pi / 10800 = 1845.29 m,
    # with M = a(1-e²)/(1-e² sin²φ)^1.5
    local, _ = lat_lon_to_local([HOAN_KIEM, (HOAN_KIEM[0] + 1 / 60, HOAN_KIEM[1])])
    assert local[1, 0] == pytest.approx(0.0, abs=0.01)
    assert local[1, 1] == pytest.approx(1845.29, abs=0.05)


def test_longitude_degree_shrinks_with_cos_latitude() -> None:
    # 0.01° of longitude at 21.0285°N: N cos φ * pi/180 * 0.01 = 1039.51 m (WGS-84)
    local, _ = lat_lon_to_local([HOAN_KIEM, (HOAN_KIEM[0], HOAN_KIEM[1] + 0.01)])
    assert local[1, 0] == pytest.approx(1039.51, abs=0.05)
    assert abs(local[1, 1]) < 0.1  # tangent plane drops 8 cm over 1 km


def test_distance_matches_haversine_over_a_junction() -> None:
    b = (21.0291, 105.8550)
    local, _ = lat_lon_to_local([HOAN_KIEM, b])
    lat1, lon1, lat2, lon2 = map(np.radians, (*HOAN_KIEM, *b))
    hav = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    sphere = 2 * 6371008.8 * np.arcsin(np.sqrt(hav))
    # sphere vs ellipsoid differ by < 0.5 % at this latitude
    assert np.linalg.norm(local[1]) == pytest.approx(sphere, rel=5e-3)


def test_inverse_round_trip() -> None:
    points = np.array([[21.0285, 105.8542], [21.0290, 105.8551], [21.0279, 105.8547]])
    local, origin = lat_lon_to_local(points)
    assert np.abs(local_to_lat_lon(local, origin) - points).max() < 1e-9


def test_refuses_far_apart_or_invalid() -> None:
    with pytest.raises(CalibrationError, match="swapped"):
        lat_lon_to_local([HOAN_KIEM, (HOAN_KIEM[1] / 10, HOAN_KIEM[0])])
    with pytest.raises(CalibrationError, match="latitude"):
        lat_lon_to_local([(105.0, 21.0), (105.0, 21.0)])
