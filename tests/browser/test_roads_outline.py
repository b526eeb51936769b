"""The offline map's road outline: generated from the demo cameras' calibration, kept current."""

from __future__ import annotations

import json
import math
from pathlib import Path

from cloud.web.roads import MAX_RANGE_M, OUTPUT, main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = [
    REPO / "configs" / "vn_nga_ba_hue_overpass.yaml",
    REPO / "configs" / "intersection_cctv.yaml",
]


def test_shipped_outline_is_what_the_configs_give(tmp_path: Path):
    out = tmp_path / "roads.geojson"
    assert main([*map(str, CONFIGS), "--out", str(out)]) == 0
    assert json.loads(out.read_text("utf-8")) == json.loads(OUTPUT.read_text("utf-8"))


def test_outline_lies_on_the_camera_within_range():
    data = json.loads(OUTPUT.read_text("utf-8"))
    lat0, lon0 = 16.0614, 108.1722  # the overpass camera's registered position
    zones = set()
    for feature in data["features"]:
        props = feature["properties"]
        assert props["camera_id"] == "nga-ba-hue-overpass" and props["heading_assumed"] is True
        zones.add(props["zone"])
        for lon, lat in feature["geometry"]["coordinates"][0]:
            north = (lat - lat0) * 111_320
            east = (lon - lon0) * 111_320 * math.cos(math.radians(lat0))
            assert math.hypot(north, east) <= MAX_RANGE_M + 1
    # both carriageways of the overpass scene; the intersection config has no position
    assert zones == {"carriageway_towards", "carriageway_away"}
