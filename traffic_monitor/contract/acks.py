"""End-to-end delivery acknowledgements, aggregator → node, on ``traffic/v1/{site}/{node}/acks``.

An MQTT PUBACK only says that the broker holds a message. A broker restarted before the
aggregators have subscribed again acknowledges and drops what the nodes send (Mosquitto does
not restore shared subscriptions), and a SIGKILLed broker loses what it acknowledged but had
not saved. So the node's outbox keeps every message until the aggregator has *stored* it:

- each outbox message carries, as its MQTT v5 *correlation data* (the request/response
  property of the protocol), the id of the node's outbox and the message's sequence number
  there: 24 bytes, the 16 bytes of the outbox id then the sequence number as an unsigned
  64-bit big-endian integer (:func:`correlation_data`);
- after the transaction that stores a batch has committed, the aggregator publishes one
  :class:`DeliveryAck` per node and outbox, listing the sequence numbers it stored (as rows or
  as duplicates of rows already there) and those it refused (dead letters);
- the node deletes those and sends again, with growing delays, what stays unacknowledged;
  the store drops the duplicates by event id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Final

from pydantic import Field

from traffic_monitor.contract.events import CONTROL_VERSION, SchemaVersion, _Wire

OUTBOX_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
"""An outbox id: 32 lowercase hex digits (16 random bytes), made when the outbox is created."""

MAX_SEQ: Final = 2**63 - 1
"""Largest sequence number (SQLite's integer key)."""

_ID = re.compile(OUTBOX_ID_PATTERN)
_CORRELATION_BYTES: Final = 24

Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]


class DeliveryAck(_Wire):
    """Which messages of one node's outbox the aggregator has stored or refused."""

    schema_version: SchemaVersion = Field(
        default=CONTROL_VERSION, description="Version of this schema."
    )
    outbox_id: str = Field(pattern=OUTBOX_ID_PATTERN, description="The node's outbox.")
    stored: list[tuple[Seq, Seq]] = Field(
        default_factory=list,
        max_length=4096,
        description="Inclusive ranges [first, last] of sequence numbers stored (or already "
        "stored: a duplicate).",
    )
    refused: list[Seq] = Field(
        default_factory=list,
        max_length=4096,
        description="Sequence numbers refused as dead letters; the node drops them.",
    )


def correlation_data(outbox_id: str, seq: int) -> bytes:
    """Return the correlation data naming one outbox message (24 bytes).

    Raises:
        ValueError: Not an outbox id, or a sequence number out of range.
    """
    if not _ID.fullmatch(outbox_id) or not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"bad outbox message key {outbox_id!r}/{seq}")
    return bytes.fromhex(outbox_id) + seq.to_bytes(8, "big")


def parse_correlation_data(data: bytes) -> tuple[str, int] | None:
    """Return (outbox id, sequence number) of correlation data; None when it is not ours."""
    if len(data) != _CORRELATION_BYTES:
        return None
    seq = int.from_bytes(data[16:], "big")
    return (data[:16].hex(), seq) if seq <= MAX_SEQ else None


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Compress sequence numbers into sorted inclusive ranges: ``[1,2,3,7]`` → ``[(1,3),(7,7)]``."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges
