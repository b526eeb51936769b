"""The camera placement the aggregator reads from the edge's configs, without the edge."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.scene import load_scene
from traffic_monitor.contract.placement import read_placement
from traffic_monitor.errors import UserFacingError

REPO = Path(__file__).resolve().parents[2]
SCENES = sorted(
    p for p in (REPO / "configs").glob("*.yaml") if "camera" in yaml.safe_load(p.read_text())
)


@pytest.mark.parametrize("path", SCENES, ids=[p.stem for p in SCENES])
def test_every_shipped_scene_reads_the_same_as_the_edge_reads_it(path: Path):
    edge = load_scene(path)
    (outline,) = read_placement(path).scenes
    assert outline.camera == edge.camera
    assert [(z.name, z.kind, z.polygon) for z in outline.zones] == [
        (z.name, z.kind, z.polygon) for z in edge.zones
    ]
    if edge.calibration is None:
        assert outline.calibration is None
    else:
        assert outline.calibration is not None
        assert outline.calibration.image_points == edge.calibration.image_points
        assert outline.calibration.world_points == edge.calibration.world_points


def test_a_run_file_gives_the_node_and_its_cameras(tmp_path: Path):
    scene = yaml.safe_load(SCENES[0].read_text())
    for camera_id in ("north", "south"):
        (tmp_path / f"{camera_id}.yaml").write_text(
            yaml.safe_dump(scene | {"camera": scene["camera"] | {"id": camera_id}})
        )
    run = {
        "cameras": ["north.yaml", "south.yaml"],
        "transport": {"type": "mqtt", "mqtt": {"site_id": "hcm-q1", "node_id": "box-7"}},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    placement = read_placement(tmp_path / "run.yaml")
    assert (placement.site_id, placement.node_id) == ("hcm-q1", "box-7")
    assert [s.camera.id for s in placement.scenes] == ["north", "south"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"sources": []}, "neither a scene"),
        ({"camera": {"id": "a/b"}}, "camera.id"),
        ({"camera": {"id": "cam", "location": {"lat": 95, "lon": 0}}}, "camera.location.lat"),
        (["not", "a", "mapping"], "mapping"),
    ],
)
def test_bad_files_are_refused_with_the_field_named(tmp_path: Path, content, message):
    path = tmp_path / "cam.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(UserFacingError, match=message):
        read_placement(path)
