"""ACL rendering: a node writes the events and images of its own cameras only."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from cloud.cli import run_acl
from cloud.ingest.acl import NodeCameras, parse_node, render_acl
from traffic_monitor.contract import TopicError
from traffic_monitor.errors import UserFacingError

REPO = Path(__file__).resolve().parents[2]


def test_each_camera_is_bound_to_its_node():
    acl = render_acl([parse_node("s/n1=cam-a,cam-b"), parse_node("s/n2=cam-c")])
    blocks = {block.split("\n")[0]: block for block in acl.split("\n\n")}
    node_one = blocks["user s.n1"]
    assert "topic write traffic/v1/s/n1/events/cam-a/#" in node_one
    assert "topic write traffic/v1/s/n1/snapshots/cam-b/#" in node_one
    assert "cam-c" not in node_one and "events/#" not in node_one  # no prefix-wide write
    assert "topic read traffic/v1/s/n1/acks" in node_one
    aggregator = acl.split("\n\n")[0]
    assert "topic write traffic/v1/+/+/acks" in aggregator


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("s/n1", "SITE/NODE=CAMERA"),
        ("s/n1=", "SITE/NODE=CAMERA"),
        ("sn1=cam", "SITE/NODE=CAMERA"),
        ("s/n1=cam/x", "camera"),
        ("s/n 1=cam", "node"),
    ],
)
def test_bad_node_specs_are_refused(spec: str, message: str):
    with pytest.raises(TopicError, match=message):
        parse_node(spec)


def test_a_camera_given_to_two_nodes_is_refused():
    with pytest.raises(TopicError, match="'cam' is given to both s/n1 and s/n2"):
        render_acl([NodeCameras("s", "n1", ("cam",)), NodeCameras("s", "n2", ("cam",))])


def test_acl_from_a_nodes_edge_run_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    scene = yaml.safe_load((REPO / "configs" / "intersection_cctv.yaml").read_text())
    (tmp_path / "cam.yaml").write_text(yaml.safe_dump(scene))
    run = {
        "cameras": ["cam.yaml"],
        "transport": {
            "type": "mqtt",
            "mqtt": {"site_id": scene["camera"]["site"], "node_id": "box-7"},
        },
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))

    args = argparse.Namespace(
        nodes=[], run_config=[tmp_path / "run.yaml"], aggregator_user="aggregator"
    )
    assert run_acl(args) == 0
    prefix = f"traffic/v1/{scene['camera']['site']}/box-7"
    assert f"topic write {prefix}/events/{scene['camera']['id']}/#" in capsys.readouterr().out
    args.run_config = []
    with pytest.raises(UserFacingError, match="at least one node"):
        run_acl(args)
