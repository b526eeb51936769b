"""One node identity (site, node), resolved once from the config and never rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.pipeline.commands import load_run_config
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import MemorySink
from tests.analytics.factories import scene
from tests.analytics.test_edge_run import LINE, ROAD, RecordingDetector
from tests.analytics.test_pipeline import SyntheticSource
from traffic_monitor.errors import UserFacingError


def _camera(camera_id: str, site: str) -> dict[str, object]:
    return scene(
        camera={"id": camera_id, "site": site},
        lines=[LINE],
        zones=[ROAD],
        rules={"line_crossing": {"intervals_s": [60]}},
    ).model_dump(mode="json", exclude_none=True)


def _run_config(tmp_path: Path, sites: dict[str, str], node_site: str) -> Path:
    for camera, site in sites.items():
        (tmp_path / f"{camera}.yaml").write_text(yaml.safe_dump(_camera(camera, site)))
    run = {
        "cameras": [f"{camera}.yaml" for camera in sites],
        "transport": {"type": "mqtt", "mqtt": {"site_id": node_site, "node_id": "box-1"}},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(run))
    return path


def test_a_camera_of_another_site_is_refused_at_load(tmp_path: Path):
    path = _run_config(tmp_path, {"north": "hcm-q1", "south": "hcm-q3"}, node_site="hcm-q1")
    with pytest.raises(UserFacingError) as caught:
        load_run_config(path)
    message = str(caught.value)
    assert "transport.mqtt.site_id is 'hcm-q1'" in message
    assert "south (camera.site: hcm-q3)" in message and "north" not in message


def test_events_are_made_with_the_nodes_identity(tmp_path: Path):
    path = _run_config(tmp_path, {"north": "hcm-q1"}, node_site="hcm-q1")
    config, scenes, _ = load_run_config(path)
    assert config.transport.mqtt is not None
    sink = MemorySink()
    pipeline = Pipeline(
        scenes,
        RecordingDetector(),
        {"north": SyntheticSource("north", 90)},
        sink,
        node_id=config.transport.mqtt.node_id,
    )
    pipeline.run()
    assert sink.events
    assert {(e.site_id, e.node_id) for e in sink.events} == {("hcm-q1", "box-1")}
