"""The delivery-acknowledgement contract: the correlation data naming an outbox message."""

from __future__ import annotations

import uuid

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.transport.publisher import PackedProperties
from traffic_monitor.contract import (
    ContractError,
    DeliveryAck,
    correlation_data,
    decode_ack,
    encode,
    parse_correlation_data,
    seq_ranges,
)


def test_correlation_data_round_trip():
    outbox_id = uuid.uuid4().hex
    for seq in (0, 1, 1_234_567, 2**63 - 1):
        data = correlation_data(outbox_id, seq)
        assert len(data) == 24
        assert parse_correlation_data(data) == (outbox_id, seq)
    with pytest.raises(ValueError, match="bad outbox message key"):
        correlation_data("not-hex", 1)
    with pytest.raises(ValueError, match="bad outbox message key"):
        correlation_data(outbox_id, -1)
    assert parse_correlation_data(b"short") is None
    assert parse_correlation_data(bytes(16) + (2**64 - 1).to_bytes(8, "big")) is None


def test_packed_properties_are_what_paho_packs_and_reads():
    data = correlation_data(uuid.uuid4().hex, 42)
    reference = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    reference.CorrelationData = data
    packed = PackedProperties(data).pack()
    assert packed == reference.pack()  # type: ignore[no-untyped-call]
    read = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    read.unpack(packed)  # type: ignore[no-untyped-call]
    assert read.CorrelationData == data  # type: ignore[attr-defined]


def test_seq_ranges_and_the_ack_message():
    assert seq_ranges([7, 1, 2, 3, 3, 9, 8]) == [(1, 3), (7, 9)]
    assert seq_ranges([]) == []
    ack = DeliveryAck(outbox_id=uuid.uuid4().hex, stored=seq_ranges([1, 2, 5]), refused=[4])
    assert decode_ack(encode(ack)) == ack
    for bad in (
        b'{"schema_version": 1, "outbox_id": "x", "stored": []}',
        b'{"schema_version": 1, "outbox_id": "' + b"a" * 32 + b'", "stored": [[1]]}',
        b'{"schema_version": 1, "outbox_id": "' + b"a" * 32 + b'", "refused": [-1]}',
        b'{"outbox_id": "' + b"a" * 32 + b'"}',
    ):
        with pytest.raises(ContractError):
            decode_ack(bad)
