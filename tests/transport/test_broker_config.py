"""One broker-connection model for edge and cloud; files of the older flat shape still load."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from cloud.cli import ingest_config
from cloud.ingest import IngestConfig
from edge.pipeline.commands import load_run_config
from edge.transport import MqttConfig
from tests.analytics.test_edge_run import write_run
from traffic_monitor.contract import BrokerConnection, TlsConfig
from traffic_monitor.errors import UserFacingError

CONNECTION = {
    "host": "mqtt.example.vn",
    "port": 8883,
    "username": "hcm-q1.node-01",
    "password_file": "/etc/traffic-monitor/mqtt.password",
    "tls": {"ca_file": "/etc/traffic-monitor/ca.crt"},
    "keepalive_s": 20,
    "reconnect_min_s": 2,
    "reconnect_max_s": 60,
}
EXPECTED = BrokerConnection(
    host="mqtt.example.vn",
    port=8883,
    username="hcm-q1.node-01",
    password_file=Path("/etc/traffic-monitor/mqtt.password"),
    tls=TlsConfig(ca_file=Path("/etc/traffic-monitor/ca.crt")),
    keepalive_s=20,
    reconnect_min_s=2.0,
    reconnect_max_s=60.0,
)


def test_an_edge_run_file_of_the_flat_shape_still_loads(tmp_path: Path):
    old = {"type": "mqtt", "mqtt": {"site_id": "default", "node_id": "n1", **CONNECTION}}
    config, _, _ = load_run_config(write_run(tmp_path, old))
    mqtt = config.transport.mqtt
    assert mqtt is not None
    assert mqtt.broker == EXPECTED.model_copy(update={"session_expiry_s": 86_400})
    assert mqtt.effective_client_id == "edge-default-n1"


def test_the_nested_shape_gives_the_same_config(tmp_path: Path):
    flat = MqttConfig.model_validate({"site_id": "s", "node_id": "n", **CONNECTION})
    nested = MqttConfig.model_validate({"site_id": "s", "node_id": "n", "broker": CONNECTION})
    assert flat == nested
    assert MqttConfig(broker=EXPECTED, site_id="s", node_id="n") == nested


@pytest.mark.parametrize(
    ("model", "owner", "expiry"),
    [(MqttConfig, {"site_id": "s", "node_id": "n"}, 86_400), (IngestConfig, {}, 3600)],
)
def test_each_side_keeps_its_session_default(model, owner, expiry):
    assert model.model_validate(owner).broker.session_expiry_s == expiry
    assert model.model_validate(owner | {"port": 1884}).broker.session_expiry_s == expiry
    given = model.model_validate(owner | {"broker": {"session_expiry_s": 60}})
    assert given.broker.session_expiry_s == 60


@pytest.mark.parametrize("model", [MqttConfig, IngestConfig])
def test_a_field_given_twice_or_misspelt_is_refused_with_its_name(model):
    owner = {"site_id": "s", "node_id": "n"} if model is MqttConfig else {}
    with pytest.raises(ValidationError, match="port given both at the top and in 'broker'"):
        model.model_validate(owner | {"port": 1, "broker": {"port": 2}})
    with pytest.raises(ValidationError, match=r"broker\.hots"):
        model.model_validate(owner | {"broker": {"hots": "x"}})
    with pytest.raises(ValidationError, match="password"):
        model.model_validate(owner | {"password": "secret"})


def ingest_args(config: Path | None, **flags: object) -> argparse.Namespace:
    names = ("host", "port", "client_id", "share_group", "username", "password_file")
    values = dict.fromkeys((*names, "database_url", "database_schema"))
    return argparse.Namespace(config=config, **(values | flags))


@pytest.mark.parametrize("shape", ["flat", "nested"])
def test_an_ingest_file_of_either_shape_loads_and_flags_override_it(tmp_path: Path, shape):
    connection = CONNECTION | {"username": "aggregator"}
    body = connection if shape == "flat" else {"broker": connection}
    path = tmp_path / "ingest.json"
    path.write_text(json.dumps({"client_id": "agg-2", "batch_size": 50, **body}))
    config = ingest_config(ingest_args(path))
    assert config.broker == EXPECTED.model_copy(update={"username": "aggregator"})
    assert (config.client_id, config.batch_size) == ("agg-2", 50)
    again = ingest_config(ingest_args(path, host="10.0.0.5", port=1884, client_id="agg-3"))
    assert (again.broker.host, again.broker.port, again.client_id) == ("10.0.0.5", 1884, "agg-3")
    assert again.broker.tls == EXPECTED.tls


def test_an_ingest_file_naming_a_field_twice_is_refused(tmp_path: Path):
    path = tmp_path / "ingest.json"
    path.write_text(json.dumps({"host": "a", "broker": {"host": "b"}}))
    with pytest.raises(UserFacingError, match="host given both"):
        ingest_config(ingest_args(path))


def test_the_run_config_yaml_written_by_the_docs_loads(tmp_path: Path):
    """The nested spelling that docs/transport.md shows."""
    section = {"site_id": "default", "node_id": "n1", "broker": CONNECTION}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(section))
    loaded = MqttConfig.model_validate(yaml.safe_load((tmp_path / "x.yaml").read_text()))
    assert loaded.broker.host == "mqtt.example.vn"


def test_the_contract_imports_nothing_of_edge_or_cloud():
    code = (
        "import sys, traffic_monitor.contract, traffic_monitor.contract.mqtt_client\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('edge', 'cloud'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
