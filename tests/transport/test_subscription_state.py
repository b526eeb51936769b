"""``Ingestor.connected`` follows the SUBACK: a scripted broker decides when it arrives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from cloud.store import EventStore
from tests.transport.conftest import wait_for
from tests.transport.helpers import ingestor

CONNACK = bytes([0x20, 3, 0, 0, 0])  # MQTT v5: no session, success, no properties


def _read_packet(conn: socket.socket) -> tuple[int, bytes]:
    header = conn.recv(1)
    if not header:
        raise ConnectionError("closed")
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return header[0], body


class ScriptedBroker:
    """Accepts one MQTT v5 client, answers CONNECT, and holds the SUBACK until told."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.subscribe_id: bytes | None = None
        self.conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.conn, _ = self.server.accept()
        kind, _ = _read_packet(self.conn)
        assert kind == 0x10  # CONNECT
        self.conn.sendall(CONNACK)
        kind, body = _read_packet(self.conn)
        assert kind == 0x82  # SUBSCRIBE
        self.subscribe_id = body[:2]

    def suback(self, reason_codes: bytes) -> None:
        assert self.conn is not None and self.subscribe_id is not None
        body = self.subscribe_id + b"\x00" + reason_codes
        self.conn.sendall(bytes([0x90, len(body)]) + body)

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedBroker]:
    broker = ScriptedBroker()
    yield broker
    broker.drop()


def test_connected_waits_for_the_suback(scripted: ScriptedBroker, sqlite_store: EventStore):
    consumer = ingestor(scripted.port, sqlite_store, reconnect_max_s=1)
    consumer.start()
    try:
        wait_for(lambda: scripted.subscribe_id is not None, 10, "SUBSCRIBE")
        assert not consumer.connected  # CONNACK received, SUBSCRIBE sent, no SUBACK yet
        scripted.suback(b"\x01\x01\x01\x01")  # four filters granted QoS 1
        wait_for(lambda: consumer.connected, 10, "connected after SUBACK")
        scripted.drop()
        wait_for(lambda: not consumer.connected, 10, "cleared on disconnect")
    finally:
        consumer.stop()


def test_refused_subscription_is_not_connected(
    scripted: ScriptedBroker, sqlite_store: EventStore, caplog
):
    consumer = ingestor(scripted.port, sqlite_store)
    consumer.start()
    try:
        wait_for(lambda: scripted.subscribe_id is not None, 10, "SUBSCRIBE")
        scripted.suback(b"\x01\x87\x01\x01")  # one filter "not authorized"
        wait_for(lambda: "broker refused subscriptions" in caplog.text, 10, "the refusal")
        assert not consumer.connected
    finally:
        consumer.stop()
