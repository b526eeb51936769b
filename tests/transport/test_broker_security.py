"""The shipped Mosquitto config: TLS, passwords, per-node ACLs (a node cannot spoof another)."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud.ingest import IngestConfig, Ingestor
from cloud.ingest.acl import node_username, parse_node, render_acl
from cloud.store import EventStore
from edge.rules.signals import ExternalSignalStates, SignalState
from edge.transport import MqttConfig, MqttPublisher, TlsConfig
from tests.events import event_id, make_event
from tests.transport.conftest import MOSQUITTO, RUN_AS, wait_for
from traffic_monitor.contract import (
    BrokerConnection,
    EventType,
    SignalCommand,
    SnapshotKind,
    command_topic,
    encode,
    event_topic,
    snapshot_topic,
    status_topic,
)
from traffic_monitor.net import free_port, wait_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "mosquitto"
PASSWORDS = {"aggregator": "agg-secret", "hcm-q1.node-01": "n1-secret", "hcm-q1.node-02": "n2"}


@pytest.fixture
def secure_broker(tmp_path: Path):
    """Run deploy/mosquitto/mosquitto.conf with its paths moved into tmp_path."""
    if not MOSQUITTO.exists():
        pytest.skip(f"{MOSQUITTO} is absent")
    etc = tmp_path / "etc"
    subprocess.run(
        ["sh", str(DEPLOY / "make-certs.sh"), str(etc / "certs"), "localhost"],
        check=True,
        capture_output=True,
    )
    passwd = etc / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    nodes = [parse_node("hcm-q1/node-01=cam-1"), parse_node("hcm-q1/node-02=cam-2")]
    (etc / "acl").write_text(render_acl(nodes))
    port = free_port()
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = conf.replace("/etc/mosquitto/", f"{etc}/").replace("/var/lib/mosquitto/", f"{etc}/")
    conf = conf.replace("log_dest syslog", f"log_dest file {tmp_path / 'mosquitto.log'}")
    conf = conf.replace("listener 8883", f"listener {port} 127.0.0.1")
    (etc / "mosquitto.conf").write_text(RUN_AS + conf)
    proc = subprocess.Popen([str(MOSQUITTO), "-c", str(etc / "mosquitto.conf")])
    wait_port(port)
    yield port, etc
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def _secrets(tmp_path: Path, user: str) -> Path:
    path = tmp_path / f"{user}.password"
    path.write_text(PASSWORDS[user] + "\n")
    return path


def _raw_client(port: int, etc: Path, user: str, password: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"raw-{user}", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.tls_set(ca_certs=str(etc / "certs" / "ca.crt"))
    client.username_pw_set(user, password)
    return client


def test_tls_passwords_and_acls(secure_broker, sqlite_store: EventStore, tmp_path: Path):
    port, etc = secure_broker
    tls = TlsConfig(ca_file=etc / "certs" / "ca.crt")
    consumer = Ingestor(
        IngestConfig(
            broker=BrokerConnection(
                host="localhost",
                port=port,
                username="aggregator",
                password_file=_secrets(tmp_path, "aggregator"),
                tls=tls,
            ),
        ),
        store=sqlite_store,
    )
    consumer.start()
    pub = MqttPublisher(
        MqttConfig(
            broker=BrokerConnection(
                host="localhost",
                port=port,
                username=node_username("hcm-q1", "node-01"),
                password_file=_secrets(tmp_path, "hcm-q1.node-01"),
                tls=tls,
            ),
            site_id="hcm-q1",
            node_id="node-01",
            outbox_path=tmp_path / "outbox.sqlite3",
        )
    )
    pub.start()
    spoofer = _raw_client(port, etc, "hcm-q1.node-01", PASSWORDS["hcm-q1.node-01"])
    acks: list[int] = []
    spoofer.on_publish = lambda c, u, mid, rc, p: acks.append(rc.value)
    spoofer.connect("localhost", port)
    spoofer.loop_start()
    try:
        wait_for(lambda: consumer.connected and pub.connected, 15, "TLS connections")
        # node-01 publishes, as node-02, under node-02's prefix: the broker must refuse it.
        forged = make_event(EventType.SPEEDING, index=2, node_id="node-02")
        topic = event_topic("hcm-q1", "node-02", forged.camera_id, forged.type.value)
        spoofer.publish(topic, encode(forged), qos=1).wait_for_publish(10)
        # nor, under its own prefix, for node-02's camera cam-2 (event or image)
        other = make_event(EventType.SPEEDING, index=3, camera_id="cam-2")
        topic = event_topic("hcm-q1", "node-01", "cam-2", other.type.value)
        spoofer.publish(topic, encode(other), qos=1).wait_for_publish(10)
        image = snapshot_topic("hcm-q1", "node-01", "cam-2", event_id(3), SnapshotKind.SNAPSHOT)
        spoofer.publish(image, b"\xff\xd8\xff", qos=1).wait_for_publish(10)
        # node-01 may not read node-02's commands either.
        spoofer.subscribe(command_topic("hcm-q1", "node-02", "reload"), qos=1)
        pub.publish(make_event(EventType.SPEEDING, index=1))  # its own prefix and camera: accepted
        assert pub.flush(15)  # confirmed: the node may read its acknowledgements
        wait_for(lambda: sqlite_store.count_events() >= 1, 15, "node-01's own event")
        assert sqlite_store.event_ids() == [event_id(1)]
        assert acks == [0x87] * 3  # MQTT v5 PUBACK "not authorized"
    finally:
        spoofer.loop_stop()
        spoofer.disconnect()
        pub.close()
        consumer.stop()


@pytest.mark.parametrize(
    ("user", "password", "tls"),
    [("hcm-q1.node-01", "wrong", True), ("nobody", "x", True), ("hcm-q1.node-01", None, True)],
)
def test_bad_credentials_refused(secure_broker, user, password, tls):
    port, etc = secure_broker
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.tls_set(ca_certs=str(etc / "certs" / "ca.crt"))
    if password is not None:
        client.username_pw_set(user, password)
    result: list[int] = []
    done = threading.Event()

    def on_connect(c, u, flags, rc, props):
        result.append(rc.value)
        done.set()

    client.on_connect = on_connect
    client.connect("localhost", port)
    client.loop_start()
    try:
        assert done.wait(10)
    finally:
        client.loop_stop()
        client.disconnect()
    assert result[0] in (0x86, 0x87, 0x8C)  # bad user name or password / not authorised


def test_plain_tcp_refused_on_tls_port(secure_broker):
    port, _ = secure_broker
    # A plain MQTT 3.1.1 CONNECT (client id "x", clean session) sent without TLS.
    connect = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 1]) + b"x"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(connect)
        try:
            reply = sock.recv(16)
        except (ConnectionResetError, TimeoutError):
            reply = b""
    assert not reply.startswith(b"\x20")  # no CONNACK over plain TCP


def test_commands_only_from_the_aggregator(secure_broker, tmp_path: Path):
    """The aggregator may command node-01; node-02 may not (ACL), and nothing it sends lands."""
    port, etc = secure_broker
    signals = ExternalSignalStates()
    pub = MqttPublisher(
        MqttConfig(
            broker=BrokerConnection(
                host="localhost",
                port=port,
                username=node_username("hcm-q1", "node-01"),
                password_file=_secrets(tmp_path, "hcm-q1.node-01"),
                tls=TlsConfig(ca_file=etc / "certs" / "ca.crt"),
            ),
            site_id="hcm-q1",
            node_id="node-01",
            outbox_path=tmp_path / "outbox.sqlite3",
        ),
        signals=signals,
    )
    aggregator = _raw_client(port, etc, "aggregator", PASSWORDS["aggregator"])
    intruder = _raw_client(port, etc, "hcm-q1.node-02", PASSWORDS["hcm-q1.node-02"])
    refused: list[int] = []
    intruder.on_publish = lambda c, u, mid, rc, p: refused.append(rc.value)
    births: list[bytes] = []
    aggregator.on_message = lambda c, u, m: births.append(m.payload)
    for client in (aggregator, intruder):
        client.connect("localhost", port)
        client.loop_start()
    aggregator.subscribe(status_topic("hcm-q1", "node-01"), qos=1)
    pub.start()
    topic = command_topic("hcm-q1", "node-01", "signal_state")
    try:
        # The node subscribes to its commands before it announces itself online.
        wait_for(lambda: any(b'"online":true' in b for b in births), 15, "node-01's birth")
        forged = SignalCommand(signal_id="sig-1", state="green")
        intruder.publish(topic, encode(forged), qos=1).wait_for_publish(10)
        real = SignalCommand(signal_id="sig-1", state="red")
        aggregator.publish(topic, encode(real), qos=1).wait_for_publish(10)
        wait_for(lambda: signals.get("sig-1", 60) == SignalState.RED, 10, "the red state")
        assert refused == [0x87]
        assert pub.commands.counts == {"signal_state": 1}
    finally:
        for client in (aggregator, intruder):
            client.loop_stop()
            client.disconnect()
        pub.close()
